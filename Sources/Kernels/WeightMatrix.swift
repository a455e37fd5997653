import CKernels


/// How a weight matrix keeps its values in memory.
public enum WeightStorage: String, Sendable, CaseIterable {
    /// 4 bytes a weight: exact, the reference for parity tests.
    case f32
    /// 2 bytes a weight, widened to f32 as it streams through the kernel: half the bytes per pass.
    case f16
    /// int8, llama.cpp Q8_0-like: per output row, groups of 32 weights share one f32 scale (max|w| / 127,
    /// weights rounded to nearest): 1.125 bytes a weight. A product quantizes its query rows the same way
    /// (per group of 32) and sums each group's int8 x int8 products exactly, as llama.cpp's Q8_0 x Q8_0
    /// dot product does, so a one-query pass streams at memory speed on AVX2 too. The rest of the pass
    /// (norms, attention, sampling) stays f32; a model's KV caches are then f16 (`kvCacheStorage`).
    case int8
}

extension WeightStorage {
    /// The storage a KV cache uses next to weights kept this way: f32 and f16 as the weights, f16 for
    /// int8 (the cache holds computed keys and values, not weights; the kernels keep them as f32 or f16).
    public var kvCacheStorage: WeightStorage { self == .int8 ? .f16 : self }
}

/// A linear layer's weight, `outFeatures x inFeatures`, row-major like PyTorch's `nn.Linear.weight`.
///
/// `apply` computes `y = x W^T` for a small batch of rows of `x`. Every model matmul goes through
/// here, so this is the one place the speed work lives.
public final class WeightMatrix: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let storage: WeightStorage
    let f32: UnsafeMutablePointer<Float>?      // [outFeatures][inFeatures] when storage is .f32
    let f16: UnsafeMutablePointer<UInt16>?     // [outFeatures][inFeatures], IEEE half bits, when .f16
    let i8: UnsafeMutablePointer<Int8>?        // [outFeatures][inFeatures] when .int8
    let scales: UnsafeMutablePointer<Float>?   // [outFeatures][groups] when .int8: one scale per 32 weights of a row

    /// Weights per int8 scale (along a row).
    public static let int8GroupSize = 32
    /// int8 scale groups per row.
    public var groupsPerRow: Int { (inFeatures + Self.int8GroupSize - 1) / Self.int8GroupSize }

    /// `values` holds `outFeatures * inFeatures` floats, row-major.
    public init(outFeatures: Int, inFeatures: Int, values: [Float], storage: WeightStorage = .f32) {
        precondition(values.count == outFeatures * inFeatures,
                     "weight has \(values.count) values, expected \(outFeatures)x\(inFeatures)")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.storage = storage
        let n = values.count
        // zk_alloc: huge-page backed for large matrices (the kernel streams them every pass).
        guard let raw = zk_alloc(max(n, 1) * storage.bytesPerValue) else {
            fatalError("out of memory for a \(outFeatures)x\(inFeatures) weight")
        }
        switch storage {
        case .f32:
            let p = raw.bindMemory(to: Float.self, capacity: max(n, 1))
            values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: n) }
            f32 = p; f16 = nil; i8 = nil; scales = nil
        case .f16:
            let p = raw.bindMemory(to: UInt16.self, capacity: max(n, 1))
            for i in 0..<n { p[i] = HalfConversion.halfBits(from: values[i]) }
            f16 = p; f32 = nil; i8 = nil; scales = nil
        case .int8:
            let p = raw.bindMemory(to: Int8.self, capacity: max(n, 1))
            let groups = (inFeatures + Self.int8GroupSize - 1) / Self.int8GroupSize
            guard let rawScales = zk_alloc(max(outFeatures * groups, 1) * 4) else {
                fatalError("out of memory for a \(outFeatures)x\(inFeatures) weight's scales")
            }
            let s = rawScales.bindMemory(to: Float.self, capacity: max(outFeatures * groups, 1))
            values.withUnsafeBufferPointer { zk_quantize_i8($0.baseAddress!, Int32(outFeatures), Int32(inFeatures), p, s) }
            i8 = p; scales = s; f32 = nil; f16 = nil
        }
    }

    /// Row blocks stacked into one matrix, in order: e.g. a gate and an up projection read as one
    /// `[2 hidden][inFeatures]` matrix, so one product serves both. Each part holds whole rows.
    public convenience init(stacking parts: [[Float]], inFeatures: Int, storage: WeightStorage = .f32) {
        precondition(inFeatures > 0 && parts.allSatisfy { $0.count % inFeatures == 0 },
                     "a stacked part is not whole rows of \(inFeatures)")
        let values = parts.flatMap { $0 }
        self.init(outFeatures: values.count / inFeatures, inFeatures: inFeatures, values: values, storage: storage)
    }

    deinit {
        let p = f32.map { UnsafeMutableRawPointer($0) } ?? f16.map { UnsafeMutableRawPointer($0) } ?? i8.map { UnsafeMutableRawPointer($0) }
        zk_free(p, max(outFeatures * inFeatures, 1) * storage.bytesPerValue)
        if let scales { zk_free(scales, max(outFeatures * groupsPerRow, 1) * 4) }
    }

    /// Bytes a pass streams through this matrix (int8: the values and their scales).
    public var byteCount: Int {
        switch storage {
        case .f32: return outFeatures * inFeatures * 4
        case .f16: return outFeatures * inFeatures * 2
        case .int8: return outFeatures * inFeatures + outFeatures * groupsPerRow * 4
        }
    }

    /// One weight as a Float (tests and debugging; not for hot loops).
    public func value(row: Int, column: Int) -> Float {
        let i = row * inFeatures + column
        if let f32 { return f32[i] }
        if let i8, let scales { return Float(i8[i]) * scales[row * groupsPerRow + column / Self.int8GroupSize] }
        return HalfConversion.float(fromHalfBits: f16![i])
    }

    /// `y[r, :] = x[r, :] W^T` for `rows` rows. `x` rows are `inFeatures` apart starting at
    /// `xOffset`; `y` rows are `outFeatures` apart starting at `yOffset`.
    /// Allocates nothing; the work is split over `KernelRuntime.threads`.
    public func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, xOffset: Int = 0, yOffset: Int = 0) {
        apply(x, rows: rows, into: y, xOffset: xOffset, yOffset: yOffset, path: .automatic)
    }

    /// `apply` over the output features `outputRows` only (rows of W): `y` rows are `outputRows.count`
    /// apart and hold those features alone. A head computes the logits of the ids a caller samples from,
    /// not of the whole vocabulary, and streams only those rows of W.
    public func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, outputRows: Range<Int>) {
        apply(x, rows: rows, into: y, xOffset: 0, yOffset: 0, path: .automatic, outputRows: outputRows)
    }

    /// `apply` with a pinned implementation (benchmarks, tests), optionally over some output rows only.
    public func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, xOffset: Int = 0, yOffset: Int = 0,
                      path: MatmulPath, outputRows: Range<Int>? = nil) {
        let selected = outputRows ?? 0..<outFeatures
        precondition(selected.lowerBound >= 0 && selected.upperBound <= outFeatures, "output rows \(selected) outside 0..<\(outFeatures)")
        precondition(rows >= 0 && xOffset >= 0 && yOffset >= 0, "negative matmul argument")
        precondition(xOffset + rows * inFeatures <= x.count, "matmul input too small")
        precondition(yOffset + rows * selected.count <= y.count, "matmul output too small")
        guard rows > 0, !selected.isEmpty else { return }
        let xp = x.base + xOffset, yp = y.base + yOffset
        let out = selected.count, first = selected.lowerBound * inFeatures
        if let f32 {
            SkinnyMatmul.f32(x: xp, rows: rows, w: f32 + first, out: out, inF: inFeatures, y: yp, path: path)
        } else if let i8, let scales {
            SkinnyMatmul.int8(x: xp, rows: rows, w: i8 + first, scales: scales + selected.lowerBound * groupsPerRow,
                              out: out, inF: inFeatures, y: yp, path: path)
        } else {
            SkinnyMatmul.f16(x: xp, rows: rows, w: f16! + first, out: out, inF: inFeatures, y: yp, path: path)
        }
    }
}
