import CKernels

/// Process-wide settings of the kernels: threads, instruction set, BLAS crossover; and the machine
/// probes (FMA rate, read bandwidth) that give a pass's floors.
public enum KernelRuntime {
    /// Threads the kernels split work over, the calling thread included (default: online CPUs,
    /// or the `ZK_THREADS` environment variable).
    public static var threads: Int {
        get { Int(zk_threads()) }
        set { zk_set_threads(Int32(newValue)) }
    }

    /// The instruction set the kernels run: "avx512" (AVX2 code with 32 registers), "avx2" or "scalar".
    public static var instructionSet: String { String(cString: zk_isa()) }

    /// Forces the portable scalar C loops (tests compare them with the vector ones).
    public static func forceScalar(_ on: Bool) { zk_force_scalar(on ? 1 : 0) }

    /// Turns the AVX2 level's AVX-VNNI int8 products on (where the CPU has them) or off; returns whether
    /// they were on (tests compare the two paths, which must agree bit for bit).
    @discardableResult
    public static func setAVXVNNI(_ on: Bool) -> Bool { zk_set_avx_vnni(on ? 1 : 0) != 0 }

    /// Row counts from which `.automatic` switches to OpenBLAS (nil: never).
    public static var blasCrossover: (f32: Int?, f16: Int?) {
        get {
            let a = Int(zk_blas_crossover_f32()), b = Int(zk_blas_crossover_f16())
            return (a >= 1 << 30 ? nil : a, b >= 1 << 30 ? nil : b)
        }
        set { zk_set_blas_crossover(Int32(newValue.f32 ?? 0), Int32(newValue.f16 ?? 0)) }
    }

    /// Row count from which `.automatic` switches to OpenBLAS for int8 weights (dequantized a block of
    /// rows at a time; nil: never, the default).
    public static var blasCrossoverInt8: Int? {
        get { let a = Int(zk_blas_crossover_i8()); return a >= 1 << 30 ? nil : a }
        set { zk_set_blas_crossover_i8(Int32(newValue ?? 0)) }
    }

    /// Peak multiply-add rate of `threads` kernel threads (nil: all) in FLOP/s, measured with the
    /// 256-bit FMAs the kernels use (nil where only the scalar path runs). With the bandwidth it
    /// gives a pass's two floors: bytes / bandwidth and FLOPs / this rate.
    public static func peakFlops(threads: Int? = nil) -> Double? {
        let r = zk_fma_flops(Int32(threads ?? 0))
        return r > 0 ? r : nil
    }

    /// Best streaming-read bandwidth (bytes per second) over `repeats` sweeps of a `megabytes` buffer
    /// read by `threads` kernel threads (nil: all).
    public static func readBandwidth(megabytes: Int = 512, repeats: Int = 5, threads: Int? = nil) -> Double {
        ReadProbe(megabytes: megabytes)?.bandwidth(repeats: repeats, threads: threads) ?? 0
    }

    /// A buffer kept for repeated streaming-read measurements (benchmarks that re-measure the bandwidth
    /// between rounds, without allocating and touching the buffer each time).
    public final class ReadProbe {
        private let base: UnsafeMutableRawPointer
        private let bytes: Int

        public init?(megabytes: Int) {
            bytes = megabytes << 20
            // Allocated like the weights (huge pages where the OS allows), so the floor is what the
            // weights could stream at.
            guard let p = zk_alloc(bytes) else { return nil }
            base = p
            // Touch every page with non-zero data so the sweeps read real memory.
            p.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        }

        deinit { zk_free(base, bytes) }

        /// Best bytes per second over `repeats` sweeps by `threads` kernel threads (nil: all).
        public func bandwidth(repeats: Int, threads: Int? = nil) -> Double {
            zk_read_bandwidth(base, bytes, Int32(repeats), Int32(threads ?? 0))
        }
    }
}

extension KernelRuntime {
    /// The instruction set the CPU supports ("avx512", "avx2", "scalar"), whatever `ZK_ISA` caps.
    public static var supportedInstructionSet: String {
        switch zk_isa_supported() { case 2: return "avx512"; case 1: return "avx2"; default: return "scalar" }
    }

    /// Whether the CPU has AVX-VNNI (the AVX2 level's int8 products use it; `ZK_ISA=avx2` leaves it off).
    public static var supportsAVXVNNI: Bool { zk_avx_vnni_supported() != 0 }

    /// The instruction set the kernels dispatch to outside `forceScalar` (after the `ZK_ISA` cap).
    public static var dispatchedInstructionSet: String {
        switch zk_isa_detected() { case 2: return "avx512"; case 1: return "avx2"; default: return "scalar" }
    }

    /// The core OpenBLAS dispatches to (`openblas_get_corename`), e.g. "Haswell", "SkylakeX", "Zen".
    public static var blasCore: String { String(cString: zk_blas_core()) }

    /// False when OpenBLAS runs a pre-AVX2 fallback core (e.g. "Prescott") on a CPU with AVX2.
    public static var blasCoreIsModern: Bool { zk_blas_core_ok() != 0 }

    /// The core OpenBLAS had picked before the process re-ran itself with `OPENBLAS_CORETYPE`
    /// (nil when no misdetection was fixed).
    public static var blasCoreFixedFrom: String? { zk_blas_fixed_from().map { String(cString: $0) } }

    /// One line for a worker's startup log: kernel ISA (and what the CPU supports), threads, the
    /// OpenBLAS core and whether it was corrected, e.g.
    /// `kernels avx512 (cpu avx512, int8 avx512-vnni), 2 threads; one-query tiles f32 1 row, f16 1 row, int8 1 row
    /// (measured); OpenBLAS core SkylakeX (fixed from Prescott)`.
    /// The int8 products' tile: "avx512-vnni", "avx2-vnni" (AVX-VNNI on 256-bit vectors), "avx2" (also on
    /// AVX-512 CPUs without VNNI) or "scalar".
    public static var int8Kernel: String { String(cString: zk_int8_kernel()) }

    /// The tile height of one-query products per storage, timed on this machine when first asked for
    /// (~0.1 s, once per process), e.g. "f32 1 row, f16 2 rows, int8 tile (measured)".
    public static var oneQueryPlan: String { String(cString: zk_one_query_plan()) }

    /// Sets the one-query tile height for `storage` (1 or 2 rows; 0: the general tile's) and returns the
    /// previous one (tests compare the heights, which must agree bit for bit).
    @discardableResult
    public static func swapOneQueryHeight(_ storage: WeightStorage, _ height: Int) -> Int {
        let index: Int32 = switch storage { case .f32: 0; case .f16: 1; case .int8: 2 }
        return Int(zk_swap_one_query_height(index, Int32(height)))
    }

    public static func describe() -> String {
        var s = "kernels \(instructionSet) (cpu \(supportedInstructionSet), int8 \(int8Kernel)), \(threads) threads; "
            + "one-query tiles \(oneQueryPlan); OpenBLAS core \(blasCore)"
        if let from = blasCoreFixedFrom { s += " (fixed from \(from) via OPENBLAS_CORETYPE)" }
        if !blasCoreIsModern { s += " [WARNING: fallback core on an AVX2 CPU; set OPENBLAS_CORETYPE]" }
        return s
    }
}
