import Foundation
import Kernels
import Model

/// The weights of a Hugging Face checkpoint directory: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`{"weight_map": {tensor name: shard file name}}`). Every file is
/// memory-mapped (`SafeTensorsFile`); a tensor is decoded to f32 only when asked for.
public struct HFCheckpoint: Sendable {
    public let directory: String
    /// Tensor name -> the file that holds it.
    private let files: [String: SafeTensorsFile]

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public init(directory: String) throws {
        self.directory = directory
        let dir = URL(fileURLWithPath: directory)
        let indexPath = dir.appendingPathComponent(Self.indexFileName).path
        var files: [String: SafeTensorsFile] = [:]
        if let data = FileManager.default.contents(atPath: indexPath) {
            guard let index = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let weightMap = index["weight_map"] as? [String: String] else {
                throw ModelError.badConfig(field: "weight_map", reason: "\(indexPath) has no {tensor: file} weight_map")
            }
            var opened: [String: SafeTensorsFile] = [:]     // each shard mapped once
            for (tensor, shard) in weightMap {
                guard !shard.contains("/") else {
                    throw ModelError.badConfig(field: "weight_map.\(tensor)", reason: "shard \"\(shard)\" is not a file name in \(directory)")
                }
                if opened[shard] == nil {
                    let path = dir.appendingPathComponent(shard).path
                    guard FileManager.default.fileExists(atPath: path) else { throw ModelError.missingFile(path) }
                    opened[shard] = try SafeTensorsFile(path: path)
                }
                let file = opened[shard]!
                guard file.contains(tensor) else {
                    throw SafeTensorsFile.Failure.missingTensor(path: file.path, tensor: tensor)
                }
                files[tensor] = file
            }
        } else {
            let path = dir.appendingPathComponent(Self.singleFileName).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw ModelError.missingFile("\(path) (or \(Self.indexFileName))")
            }
            let file = try SafeTensorsFile(path: path)
            for name in file.tensors.keys { files[name] = file }
        }
        self.files = files
    }

    public var tensorNames: [String] { files.keys.sorted() }

    public func contains(_ name: String) -> Bool { files[name] != nil }

    public func info(_ name: String) throws -> SafeTensorsFile.TensorInfo {
        guard let file = files[name] else { throw SafeTensorsFile.Failure.missingTensor(path: directory, tensor: name) }
        return try file.info(name)
    }

    /// The tensor's values as f32 (F32 exact, F16 and BF16 widened exactly), shape-checked when `shape` is given.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        guard let file = files[name] else { throw SafeTensorsFile.Failure.missingTensor(path: directory, tensor: name) }
        return try file.floats(name, shape: shape)
    }
}
