import Decoding
import Foundation
import Kernels
import Model
import TextModel

/// The kind of model a `--model` folder holds, decided by the helper `zipar generate` uses
/// (`TextModelBundle.isBundle`: a layout.json and a tokenizer.json make a text bundle).
public enum ModelKind: String, Sendable {
    case llamaGen = "class"
    case text

    public init(directory: String) { self = TextModelBundle.isBundle(directory: directory) ? .text : .llamaGen }
}

/// The name a folder's jobs carry, exactly as `zipar-submit` names them (a zipar config.json's "name"; a
/// text bundle's `TextModelIdentity`), and for a text bundle its grid. Reads no weights, so a model that
/// fails to load can still fail its own jobs.
public func modelIdentity(directory: String, kind: ModelKind) throws -> (name: String, grid: Int) {
    switch kind {
    case .llamaGen:
        let config = try ModelConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        return (config.name, config.gpt.grid)
    case .text:
        guard let identity = try TextModelIdentity.load(directory: directory) else {
            throw ModelError.badConfig(field: "model_type", reason: "\(directory) has layout.json and tokenizer.json but its config.json "
                                       + "names no text-to-image family (\(TextModelIdentity.modelTypes.sorted().joined(separator: ", ")))")
        }
        return (identity.name, identity.grid)
    }
}

/// Loads a model folder of either kind, probes it (`ModelExecutor.probe`) and returns its executor.
/// - storage: nil = auto (f16 when the checkpoint's matrices are F16).
public func loadModelExecutor(directory: String, storage: WeightStorage? = nil, batch: Int,
                              maxQueries: Int) throws -> (executor: ModelExecutor, details: [String: String]) {
    let kind = ModelKind(directory: directory)
    switch kind {
    case .llamaGen:
        let bundle = try ModelBundle(directory: directory, storage: storage)
        try ModelExecutor.probe(bundle)
        return (ModelExecutor(bundle: bundle, batch: batch, maxQueries: maxQueries),
                ["kind": kind.rawValue, "grid": "\(bundle.config.gpt.grid)", "storage": "\(bundle.storage)"])
    case .text:
        let identity = try modelIdentity(directory: directory, kind: kind)
        let bundle = try TextModelBundle(directory: directory, storage: storage)
        try ModelExecutor.probe(bundle)
        return (ModelExecutor(textBundle: bundle, name: identity.name, batch: batch, maxQueries: maxQueries),
                ["kind": kind.rawValue, "grid": "\(bundle.layout.rows)x\(bundle.layout.columns)"])
    }
}
