/// IEEE half and bfloat16 conversions used by the safetensors loader and f16 weight storage.
public enum HalfConversion {
    @inline(__always) public static func float(fromHalfBits bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always) public static func halfBits(from value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// bfloat16 is the top half of a Float32.
    @inline(__always) public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
