import Foundation

/// A read-only memory map of a whole file (weights can be hundreds of MB: no copy through read()).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeRawPointer?     // [size] bytes; nil for an empty file (mmap refuses length 0)

    public enum Failure: Error, CustomStringConvertible {
        case cannotOpen(String, String)
        public var description: String {
            switch self { case .cannotOpen(let p, let why): return "cannot open \(p): \(why)" }
        }
    }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure.cannotOpen(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure.cannotOpen(path, String(cString: strerror(errno))) }
        size = Int(st.st_size)
        if size == 0 { base = nil; return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw Failure.cannotOpen(path, "mmap failed") }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Bytes `offset..<offset+count`, copied out.
    public func bytes(offset: Int, count: Int) -> [UInt8] {
        precondition(offset >= 0 && count >= 0 && offset + count <= size, "read past end of \(path)")
        guard let base, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// Decodes `count` little-endian scalars of `type` at `offset` to Float.
    public func floats(offset: Int, count: Int, type: ScalarType) -> [Float] {
        precondition(offset >= 0 && offset + count * type.byteWidth <= size, "read past end of \(path)")
        guard let base, count > 0 else { return [] }
        let p = base + offset
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { o in
            switch type {
            case .f32: for i in 0..<count { o[i] = p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
            case .f16: for i in 0..<count { o[i] = HalfConversion.float(fromHalfBits: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bf16: for i in 0..<count { o[i] = HalfConversion.float(fromBFloat16Bits: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .f64: for i in 0..<count { o[i] = Float(p.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .i32: for i in 0..<count { o[i] = Float(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            case .i64: for i in 0..<count { o[i] = Float(p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .u8: for i in 0..<count { o[i] = Float(p.load(fromByteOffset: i, as: UInt8.self)) }
            case .bool: for i in 0..<count { o[i] = p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
            }
        }
        return out
    }

    /// The index of the first NaN or infinity among `count` floating-point scalars of `type` at `offset`,
    /// or nil. Reads the bits (exponent all ones), so no value is converted; integer types have none.
    /// Sequential over the map: a few seconds for a 7B checkpoint, nothing for the bundled models.
    public func firstNonFinite(offset: Int, count: Int, type: ScalarType) -> Int? {
        precondition(offset >= 0 && offset + count * type.byteWidth <= size, "read past end of \(path)")
        guard let base, count > 0 else { return nil }
        let p = base + offset
        switch type {
        case .f32:
            for i in 0..<count where p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7F80_0000 == 0x7F80_0000 { return i }
        case .f16:
            for i in 0..<count where p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00 { return i }
        case .bf16:
            for i in 0..<count where p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80 { return i }
        case .f64:
            for i in 0..<count where p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self) & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000 { return i }
        case .i32, .i64, .u8, .bool:
            return nil
        }
        return nil
    }

    /// Decodes `count` integer scalars (I32, I64, U8, ...) at `offset` exactly.
    public func integers(offset: Int, count: Int, type: ScalarType) -> [Int] {
        precondition(offset >= 0 && offset + count * type.byteWidth <= size, "read past end of \(path)")
        guard let base, count > 0 else { return [] }
        let p = base + offset
        return (0..<count).map { i in
            switch type {
            case .i32: return Int(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .i64: return Int(p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .u8, .bool: return Int(p.load(fromByteOffset: i, as: UInt8.self))
            default: return Int(floats(offset: offset + i * type.byteWidth, count: 1, type: type)[0])
            }
        }
    }
}

/// Element types a weight file may hold (safetensors' dtype names map onto these).
public enum ScalarType: String, Sendable {
    case f32, f16, bf16, f64, i32, i64, u8, bool

    public var byteWidth: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .f64, .i64: return 8
        case .u8, .bool: return 1
        }
    }
}
