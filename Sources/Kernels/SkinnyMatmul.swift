import CBLAS      // links OpenBLAS, which CKernels calls for the sgemm path
import CKernels

/// Which implementation a matrix product uses (benchmarks and tests pin one; the model uses `.automatic`).
public enum MatmulPath: String, Sendable, CaseIterable {
    /// Our kernel below the measured OpenBLAS crossover, OpenBLAS sgemm from it.
    case automatic
    /// The register-blocked streaming kernel (CKernels, AVX2/AVX-512VL with F16C, scalar fallback).
    case kernel
    /// OpenBLAS sgemm, split over the kernel threads (f16 weights widened block by block).
    case blas

    var code: Int32 {
        switch self {
        case .automatic: return 0
        case .kernel: return 1
        case .blas: return 2
        }
    }
}

/// `y = x W^T` where `x` has few rows (the queries of one forward pass) and `W` is large.
///
/// At batch sizes of a few tokens this product is bound by streaming `W` from memory, so what
/// matters is reading every weight byte once per pass, whatever the number of rows: the C kernel
/// keeps a tile of 4 weight rows in cache while every block of queries runs over it, splits the
/// output rows between the pool threads, and widens f16 weights with F16C as they load (int8 weights:
/// the query rows are quantized per group of 32 and multiplied in integers, see `WeightStorage.int8`).
enum SkinnyMatmul {
    static func f32(x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, out: Int, inF: Int,
                    y: UnsafeMutablePointer<Float>, path: MatmulPath = .automatic) {
        zk_matmul_f32(x, Int32(rows), w, Int32(out), Int32(inF), y, path.code)
    }

    static func f16(x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<UInt16>, out: Int, inF: Int,
                    y: UnsafeMutablePointer<Float>, path: MatmulPath = .automatic) {
        zk_matmul_f16(x, Int32(rows), w, Int32(out), Int32(inF), y, path.code)
    }

    /// int8 weights with one f32 scale per 32 along each row (`scales` is out x ceil(inF / 32)).
    static func int8(x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Int8>, scales: UnsafePointer<Float>, out: Int,
                     inF: Int, y: UnsafeMutablePointer<Float>, path: MatmulPath = .automatic) {
        zk_matmul_i8(x, Int32(rows), w, scales, Int32(out), Int32(inF), y, path.code)
    }

    /// `rows` rows of `inF` values as an int8 product sees them: each rounded to its group of 32's step
    /// (the reference for tests of int8 storage).
    static func int8RoundedActivations(_ x: [Float], rows: Int, inF: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * inF)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in _ = zk_q8_fake_quantize(xp.baseAddress!, Int32(rows), Int32(inF), op.baseAddress!) }
        }
        return out
    }
}
