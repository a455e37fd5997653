import Foundation

/// What the rules need to know about a model.
public struct ModelLimits: Sendable, Equatable {
    public var grid: Int
    public var numClasses: Int
    public var supportsGuidance: Bool
    /// What defines the image: a class (LlamaGen) or a text prompt (Emu3, Chameleon / Lumina-mGPT).
    public var conditioning: Conditioning = .classLabel
    /// Image sides in tokens the model draws besides its native `grid` (nil = only the native grid).
    public var sizes: [Int]? = nil
    /// The sequence carries an end-of-row token after each image row (Emu3, Chameleon / Lumina-mGPT): the
    /// official schedule's window counts that token, and a Jacobi window feeds it instead of drafting it.
    public var endOfRowLayout = false
    public init(grid: Int, numClasses: Int, supportsGuidance: Bool) {
        self.grid = grid; self.numClasses = numClasses; self.supportsGuidance = supportsGuidance
    }

    /// A class-conditional LlamaGen model (raster layout, no end-of-row tokens).
    public static func classModel(grid: Int, numClasses: Int, supportsGuidance: Bool = true) -> ModelLimits {
        ModelLimits(grid: grid, numClasses: numClasses, supportsGuidance: supportsGuidance)
    }

    /// A text-to-image bundle (Emu3, Chameleon / Lumina-mGPT): prompts, no classes (a text job stores class 0,
    /// the one id its limits allow), an end-of-row token after each row. Submit, the worker and the decoder
    /// all build text limits here, so the rules they check are the same.
    /// `endOfRowLayout: false` for text-conditioned models that lay the image out like LlamaGen (Janus).
    public static func textModel(grid: Int, sizes: [Int]? = nil, endOfRowLayout: Bool = true) -> ModelLimits {
        var l = ModelLimits(grid: grid, numClasses: 1, supportsGuidance: true)
        l.conditioning = .text
        l.sizes = sizes
        l.endOfRowLayout = endOfRowLayout
        return l
    }
}

/// What defines a model's images.
public enum Conditioning: String, Sendable, Equatable, Codable {
    /// A class id (class-conditional LlamaGen models): jobs carry `class`, never a prompt.
    case classLabel = "class"
    /// A free-text prompt (Emu3, Chameleon / Lumina-mGPT): jobs carry `prompt`, and `class` stays 0.
    case text
}
