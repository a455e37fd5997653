/// A fixed-size block of Float32 that the kernels read and write in place.
///
/// The model keeps every activation, cache and scratch area in these so that a forward pass
/// allocates nothing: buffers are made once (per model or per sequence) and reused.
/// Reference semantics on purpose: the hot loop must never trigger a copy-on-write.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    let base: UnsafeMutablePointer<Float>      // [count]

    public init(count: Int, value: Float = 0) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        base = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        base.initialize(repeating: value, count: max(count, 1))
    }

    /// A buffer whose contents are undefined until written (the image ops fill theirs completely:
    /// no page is touched twice).
    public init(uninitialized count: Int) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        base = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit { base.deallocate() }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); return base[i] }
        set { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)"); base[i] = newValue }
    }

    /// A copy of `count` values starting at `offset`.
    public func array(offset: Int = 0, count n: Int? = nil) -> [Float] {
        let n = n ?? (count - offset)
        precondition(offset >= 0 && offset + n <= count, "range out of bounds")
        return Array(UnsafeBufferPointer(start: base + offset, count: n))
    }

    /// Copies `n` values from `src[srcOffset...]` into `self[offset...]`.
    public func copy(from src: FloatBuffer, srcOffset: Int = 0, offset: Int = 0, count n: Int) {
        precondition(srcOffset >= 0 && srcOffset + n <= src.count && offset >= 0 && offset + n <= count,
                     "copy out of bounds")
        (base + offset).update(from: src.base + srcOffset, count: n)
    }

    public func copy(from values: [Float], offset: Int = 0) {
        precondition(offset >= 0 && offset + values.count <= count, "copy out of bounds")
        values.withUnsafeBufferPointer { s in
            if let p = s.baseAddress { (base + offset).update(from: p, count: values.count) }
        }
    }
}
