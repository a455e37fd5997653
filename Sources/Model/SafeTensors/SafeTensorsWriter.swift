import Foundation
import Kernels

/// Writes safetensors files (tests, exports). Tensors are written in the order given.
public struct SafeTensorsWriter {
    public struct Entry {
        public var name: String
        public var type: ScalarType
        public var shape: [Int]
        public var bytes: [UInt8]
    }

    private var entries: [Entry] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, floats: [Float], shape: [Int], as type: ScalarType = .f32) {
        precondition(floats.count == shape.reduce(1, *), "tensor \(name): \(floats.count) values for shape \(shape)")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * type.byteWidth)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        for f in floats {
            switch type {
            case .f32: append(f.bitPattern)
            case .f16: append(HalfConversion.halfBits(from: f))
            case .bf16: append(UInt16(truncatingIfNeeded: f.bitPattern >> 16))   // truncation, not rounding
            case .f64: append(Double(f).bitPattern)
            case .i32: append(Int32(f))
            case .i64: append(Int64(f))
            case .u8, .bool: bytes.append(UInt8(f))
            }
        }
        entries.append(Entry(name: name, type: type, shape: shape, bytes: bytes))
    }

    public mutating func add(_ name: String, integers: [Int], shape: [Int], as type: ScalarType = .i32) {
        add(name, floats: integers.map(Float.init), shape: shape, as: type)
    }

    /// The whole file's bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.type.safetensorsName, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces so the data is 8-byte aligned
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for e in entries { out.append(contentsOf: e.bytes) }
        return out
    }

    public func write(to path: String) throws {
        try Data(try encoded()).write(to: URL(fileURLWithPath: path))
    }
}
