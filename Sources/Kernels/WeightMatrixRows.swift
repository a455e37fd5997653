/// Reading whole rows back out of a `WeightMatrix`: an embedding table kept like the model's other
/// weights (f16 or int8 halve or quarter a large text+image vocabulary's table) is gathered from here.
extension WeightMatrix {
    /// Copies row `row` (`inFeatures` values, widened or dequantized to f32) into `y` at `offset`.
    public func copyRow(_ row: Int, into y: FloatBuffer, offset: Int) {
        precondition(row >= 0 && row < outFeatures, "row \(row) outside 0..<\(outFeatures)")
        precondition(offset >= 0 && offset + inFeatures <= y.count, "row copy out of range")
        let out = y.base + offset, start = row * inFeatures
        if let f32 {
            out.update(from: f32 + start, count: inFeatures)
        } else if let f16 {
            for i in 0..<inFeatures { out[i] = HalfConversion.float(fromHalfBits: f16[start + i]) }
        } else if let i8, let scales {
            let rowScales = scales + row * groupsPerRow
            for i in 0..<inFeatures { out[i] = Float(i8[start + i]) * rowScales[i / Self.int8GroupSize] }
        }
    }
}
