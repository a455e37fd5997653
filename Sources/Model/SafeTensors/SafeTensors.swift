import Foundation
import Kernels

/// A reader for the safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw bytes.
/// The file is memory-mapped; tensors are decoded to Float on request.
public struct SafeTensorsFile: Sendable {
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let type: ScalarType
        public let shape: [Int]
        public let begin: Int   // absolute byte offset in the file
        public let end: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let file: MappedFile

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case truncated(path: String, detail: String)
        case badHeader(path: String, detail: String)
        case unsupportedType(path: String, tensor: String, dtype: String)
        case missingTensor(path: String, tensor: String)
        case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
        case nonFinite(path: String, tensor: String, index: Int)

        public var description: String {
            switch self {
            case .truncated(let p, let d): return "\(p): truncated safetensors file (\(d))"
            case .badHeader(let p, let d): return "\(p): bad safetensors header (\(d))"
            case .unsupportedType(let p, let t, let d): return "\(p): tensor '\(t)' has unsupported dtype \(d)"
            case .missingTensor(let p, let t): return "\(p): missing tensor '\(t)'"
            case .wrongShape(let p, let t, let e, let f): return "\(p): tensor '\(t)' has shape \(f), expected \(e)"
            case .nonFinite(let p, let t, let i): return "\(p): tensor '\(t)' holds NaN or infinity (element \(i)): a broken checkpoint"
            }
        }
    }

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        guard file.size >= 8 else { throw Failure.truncated(path: path, detail: "\(file.size) bytes, no header length") }
        let lenBytes = file.bytes(offset: 0, count: 8)
        var headerLength = 0
        for (i, b) in lenBytes.enumerated() { headerLength |= Int(b) << (8 * i) }
        guard headerLength > 0, headerLength <= file.size - 8 else {
            throw Failure.truncated(path: path, detail: "header of \(headerLength) bytes but file has \(file.size)")
        }
        let json = file.bytes(offset: 8, count: headerLength)
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else {
            throw Failure.badHeader(path: path, detail: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  offsets.count == 2 else {
                throw Failure.badHeader(path: path, detail: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let type = ScalarType(safetensorsName: dtype) else {
                throw Failure.unsupportedType(path: path, tensor: name, dtype: dtype)
            }
            let info = TensorInfo(name: name, type: type, shape: shape,
                                  begin: dataStart + offsets[0], end: dataStart + offsets[1])
            guard offsets[0] >= 0, offsets[1] >= offsets[0], info.end - info.begin == info.count * type.byteWidth else {
                throw Failure.badHeader(path: path, detail: "tensor '\(name)': offsets \(offsets) do not fit shape \(shape) of \(dtype)")
            }
            guard info.end <= file.size else {
                throw Failure.truncated(path: path, detail: "tensor '\(name)' ends at byte \(info.end), file has \(file.size)")
            }
            tensors[name] = info
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    public func info(_ name: String) throws -> TensorInfo {
        guard let t = tensors[name] else { throw Failure.missingTensor(path: path, tensor: name) }
        return t
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor's values as Float32, checking its shape when `shape` is given.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let t = try info(name)
        if let shape, shape != t.shape {
            throw Failure.wrongShape(path: path, tensor: name, expected: shape, found: t.shape)
        }
        return file.floats(offset: t.begin, count: t.count, type: t.type)
    }

    /// Throws `nonFinite` naming the first tensor (in name order) that holds a NaN or an infinity: such
    /// weights turn every image into noise, so a worker refuses the model at start (`ModelExecutor.probe`).
    public func requireFinite() throws {
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            if let i = file.firstNonFinite(offset: t.begin, count: t.count, type: t.type) {
                throw Failure.nonFinite(path: path, tensor: name, index: i)
            }
        }
    }

    /// `requireFinite` on every `*.safetensors` file of a model folder (shards included).
    public static func requireFinite(inDirectory directory: String) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where name.hasSuffix(".safetensors") {
            try SafeTensorsFile(path: directory + "/" + name).requireFinite()
        }
    }

    /// An integer tensor's values (token ids, class ids).
    public func integers(_ name: String) throws -> [Int] {
        let t = try info(name)
        return file.integers(offset: t.begin, count: t.count, type: t.type)
    }
}

extension ScalarType {
    init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "F64": self = .f64
        case "I32": self = .i32
        case "I64": self = .i64
        case "U8": self = .u8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    var safetensorsName: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i32: return "I32"
        case .i64: return "I64"
        case .u8: return "U8"
        case .bool: return "BOOL"
        }
    }
}
