import Foundation
import JobCore

/// The kind of model a folder holds, decided in this one place for every tool (zipar, zipar-submit,
/// zipar-worker, zipar-bench): a config.json that names a `model_type` is a Hugging Face text-to-image
/// checkpoint (Emu3, Chameleon / Lumina-mGPT, our text bundles); zipar's LlamaGen config.json has none.
public enum ModelKind: String, Sendable {
    case llamaGen = "class"
    case text

    /// Reads `directory/config.json`; throws when it is missing or not JSON.
    public static func of(directory: String) throws -> ModelKind {
        ModelKind(config: try configObject(directory: directory).values)
    }

    /// The rule itself, on a parsed config.json.
    public init(config top: [String: Any]) {
        self = top["model_type"] == nil ? .llamaGen : .text
    }

    /// `directory/config.json` as a JSON object, and its path (for errors).
    static func configObject(directory: String) throws -> (values: [String: Any], path: String) {
        let path = URL(fileURLWithPath: directory).standardizedFileURL.appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.badConfig(field: "(file)", reason: "\(path) is not a JSON object")
        }
        return (top, path)
    }
}

/// What a model folder says about itself without loading weights: the name its jobs carry (a zipar
/// config.json's "name"; a text folder's `TextModelIdentity`) and its grid. zipar-submit names jobs with it
/// and zipar-worker claims them with it, so the two never disagree; a model whose weights fail to load can
/// still fail its own jobs by name.
public struct ModelFolderIdentity: Sendable, Equatable {
    public var kind: ModelKind
    public var name: String
    /// Token grid side (square grids).
    public var grid: Int
    /// What jobs for the folder are validated against before any weight is read (guidance assumed possible:
    /// the worker checks the weights again).
    public var limits: ModelLimits

    public init(kind: ModelKind, name: String, grid: Int, limits: ModelLimits) {
        self.kind = kind; self.name = name; self.grid = grid; self.limits = limits
    }

    public static func load(directory: String) throws -> ModelFolderIdentity {
        // TextModelIdentity.load answers nil exactly for the LlamaGen kind (ModelKind's rule).
        if let identity = try TextModelIdentity.load(directory: directory) {
            return ModelFolderIdentity(kind: .text, name: identity.name, grid: identity.grid, limits: identity.limits)
        }
        let config = try ModelConfig.load(path: URL(fileURLWithPath: directory).appendingPathComponent("config.json").path)
        return ModelFolderIdentity(kind: .llamaGen, name: config.name, grid: config.gpt.grid,
                                   limits: .classModel(grid: config.gpt.grid, numClasses: config.gpt.numClasses))
    }
}
