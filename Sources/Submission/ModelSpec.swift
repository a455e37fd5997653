import Foundation
import JobCore
import ModelFolder

/// What a submission needs to know about a model to validate prompts: the name jobs carry (workers claim
/// by it), whether a class or a text prompt defines its images, its classes, and the limits
/// `JobParameters.validate(for:)` checks. Read from the model directory by `load(directory:)`.
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    public var conditioning: Conditioning
    /// The native image side in tokens.
    public var grid: Int
    /// Class-conditional models: the class ids are 0..<numClasses, optionally named.
    public var numClasses: Int
    public var classNames: [String]?
    /// Other image sides the model draws (nil = only `grid`).
    public var sizes: [Int]?
    /// Text models: an end-of-row token after each image row (Emu3, Chameleon); Janus has none.
    public var endOfRowLayout = true
    /// Text bundles with an end-of-row layout: the context (`max_position_embeddings`) any `size=HxW` must
    /// fit (`ModelLimits.maxImagePositions`); nil = only the square `grid` and `sizes`.
    public var maxPositions: Int? = nil

    /// A class-conditional LlamaGen model, from its zipar config.json.
    public init(_ config: ModelConfig) {
        name = config.name; conditioning = .classLabel; grid = config.gpt.grid
        numClasses = config.gpt.numClasses; classNames = config.classNames; sizes = nil
    }

    /// A text-to-image model: no classes; a text job stores class 0, the one id its limits allow.
    public init(textModel name: String, grid: Int, sizes: [Int]? = nil, endOfRowLayout: Bool = true, maxPositions: Int? = nil) {
        self.name = name; conditioning = .text; self.grid = grid; numClasses = 1; classNames = nil; self.sizes = sizes
        self.endOfRowLayout = endOfRowLayout; self.maxPositions = maxPositions
    }

    /// The config alone cannot tell whether the weights can guide (a LlamaGen null-class row, a text model
    /// trained with caption dropout); the models zipar serves are trained for it, so submit assumes it and
    /// the worker, which loads the weights, checks again.
    public var limits: ModelLimits {
        conditioning == .text ? .textModel(grid: grid, sizes: sizes, endOfRowLayout: endOfRowLayout, maxPositions: maxPositions) : .classModel(grid: grid, numClasses: numClasses)
    }

    /// Class id for a name (any case) or a decimal id; nil for an unknown class or a text model.
    public func classID(for text: String) -> Int? {
        guard conditioning == .classLabel else { return nil }
        if let n = Int(text) { return (0..<numClasses).contains(n) ? n : nil }
        let t = text.lowercased()
        return classNames?.firstIndex { $0.lowercased() == t }
    }

    /// The class name jobs store and show (nil for a text model: its jobs have no class).
    public func className(_ id: Int) -> String? {
        guard conditioning == .classLabel else { return nil }
        if let names = classNames, id >= 0, id < names.count { return names[id] }
        return "class-\(id)"
    }
}

extension ModelSpec {
    /// `model_type` values of the text-to-image families (what `TextModelConfig` parses).
    public static var textModelTypes: Set<String> { TextModelIdentity.modelTypes }

    /// Reads a model directory. A zipar config.json (`name`, `gpt`, ...) is a class-conditional model; a
    /// Hugging Face config.json (`model_type` emu3 / chameleon) is a text model, named and sized by
    /// `TextModelIdentity.load`, the function the worker names it with too.
    public static func load(directory: String) throws -> ModelSpec {
        if let text = try TextModelIdentity.load(directory: directory) {
            return ModelSpec(textModel: text.name, grid: text.grid, endOfRowLayout: text.endOfRowLayout, maxPositions: text.maxPositions)
        }
        let configPath = URL(fileURLWithPath: directory).standardizedFileURL.appendingPathComponent("config.json").path
        return ModelSpec(try ModelConfig.load(path: configPath))
    }
}
