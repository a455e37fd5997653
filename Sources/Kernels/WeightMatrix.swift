import CKernels


/// How a weight matrix keeps its values in memory.
public enum WeightStorage: String, Sendable, CaseIterable {
    /// 4 bytes a weight: exact, the reference for parity tests.
    case f32
    /// 2 bytes a weight, widened to f32 as it streams through the kernel: half the bytes per pass.
    case f16
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
            f32 = p; f16 = nil
        case .f16:
            let p = raw.bindMemory(to: UInt16.self, capacity: max(n, 1))
            for i in 0..<n { p[i] = HalfConversion.halfBits(from: values[i]) }
            f16 = p; f32 = nil
        }
    }

    deinit {
        let p = f32.map { UnsafeMutableRawPointer($0) } ?? f16.map { UnsafeMutableRawPointer($0) }
        zk_free(p, max(outFeatures * inFeatures, 1) * storage.bytesPerValue)
    }

    public var byteCount: Int { outFeatures * inFeatures * (storage == .f32 ? 4 : 2) }

    /// One weight as a Float (tests and debugging; not for hot loops).
    public func value(row: Int, column: Int) -> Float {
        let i = row * inFeatures + column
        if let f32 { return f32[i] }
        return HalfConversion.float(fromHalfBits: f16![i])
    }

    /// `y[r, :] = x[r, :] W^T` for `rows` rows. `x` rows are `inFeatures` apart starting at
    /// `xOffset`; `y` rows are `outFeatures` apart starting at `yOffset`.
    /// Allocates nothing; the work is split over `KernelRuntime.threads`.
    public func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, xOffset: Int = 0, yOffset: Int = 0) {
        apply(x, rows: rows, into: y, xOffset: xOffset, yOffset: yOffset, path: .automatic)
    }

    /// `apply` with a pinned implementation (benchmarks, tests).
    public func apply(_ x: FloatBuffer, rows: Int, into y: FloatBuffer, xOffset: Int = 0, yOffset: Int = 0,
                      path: MatmulPath) {
        precondition(rows >= 0 && xOffset >= 0 && yOffset >= 0, "negative matmul argument")
        precondition(xOffset + rows * inFeatures <= x.count, "matmul input too small")
        precondition(yOffset + rows * outFeatures <= y.count, "matmul output too small")
        guard rows > 0 else { return }
        let xp = x.base + xOffset, yp = y.base + yOffset
        if let f32 {
            SkinnyMatmul.f32(x: xp, rows: rows, w: f32, out: outFeatures, inF: inFeatures, y: yp, path: path)
        } else {
            SkinnyMatmul.f16(x: xp, rows: rows, w: f16!, out: outFeatures, inF: inFeatures, y: yp, path: path)
        }
    }
}
