import CBLAS

/// `y = x W^T` where `x` has few rows (the queries of one forward pass) and `W` is large.
///
/// At batch sizes of a few tokens this product is bound by streaming `W` from memory, so what
/// matters is reading every weight byte once per pass, whatever the number of rows.
enum SkinnyMatmul {
    static func f32(x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, out: Int, inF: Int,
                    y: UnsafeMutablePointer<Float>) {
        if rows == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(out), Int32(inF), 1, w, Int32(inF), x, 1, 0, y, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(out), Int32(inF),
                        1, x, Int32(inF), w, Int32(inF), 0, y, Int32(out))
        }
    }

    /// f16 weights: widen one tile of rows at a time into a scratch block and multiply that.
    static func f16(x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<UInt16>, out: Int, inF: Int,
                    y: UnsafeMutablePointer<Float>) {
        let tile = max(1, min(out, 16384 / max(inF / 64, 1)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tile * inF)
        defer { scratch.deallocate() }
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: rows * tile)
        defer { tmp.deallocate() }
        var start = 0
        while start < out {
            let n = min(tile, out - start)
            let src = w + start * inF
            for i in 0..<(n * inF) { scratch[i] = Float(Float16(bitPattern: src[i])) }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(inF),
                        1, x, Int32(inF), scratch, Int32(inF), 0, tmp, Int32(n))
            for r in 0..<rows { (y + r * out + start).update(from: tmp + r * n, count: n) }
            start += n
        }
    }
}
