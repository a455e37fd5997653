import Foundation
import Model

/// Reading a VQ decoder's configuration out of a Hugging Face `config.json`: the full model's config keeps it
/// under `vq_config`; a VQ model saved on its own has the same fields at the top level.
enum VQConfigFile {
    /// The JSON of the VQ section of the config.json at `path` (or the whole file when it has no `vq_config`).
    static func vqSection(path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        return try vqSection(data, path: path)
    }

    static func vqSection(_ data: Data, path: String = "config.json") throws -> Data {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badConfig(field: path, reason: "not a JSON object")
        }
        guard let section = object["vq_config"] else { return data }
        guard let dict = section as? [String: Any] else {
            throw ModelError.badConfig(field: "vq_config", reason: "not a JSON object")
        }
        return try JSONSerialization.data(withJSONObject: dict)
    }

    /// Decodes a config, turning JSON type errors into `ModelError.badConfig`.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError.badConfig(field: path, reason: "\(error)")
        }
    }
}

/// Where a VQ decoder's tensors sit in a checkpoint directory (`HFCheckpoint`: one file or shards).
enum VQCheckpoint {
    /// Prefixes tried in order: a VQ model saved on its own (or exported by tools/fixtures/chameleon_vqgan_reference.py),
    /// the published Emu3 "-hf" checkpoints (`vqmodel.`), transformers' in-memory names (`model.vqmodel.`).
    static let knownPrefixes = ["", "vqmodel.", "model.vqmodel."]

    /// The first known prefix under which `probe` (a tensor every decoder has) exists.
    static func prefix(of checkpoint: HFCheckpoint, probe: String = "decoder.conv_in.weight") throws -> String {
        guard let found = knownPrefixes.first(where: { checkpoint.contains($0 + probe) }) else {
            throw SafeTensorsFile.Failure.missingTensor(path: checkpoint.directory, tensor: probe)
        }
        return found
    }

    static func source(_ checkpoint: HFCheckpoint) -> VQTensorSource {
        { name, shape in try checkpoint.floats(name, shape: shape) }
    }
}
