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
    /// Any `size` (rows x columns) is drawn whose image takes at most this many positions
    /// (`imagePositions`); nil = only the square sides `grid` and `sizes`. Text bundles with an end-of-row
    /// layout set it from their context (`textModel(maxPositions:)`).
    public var maxImagePositions: Int? = nil
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
    /// `maxPositions`: the model's context (config.json `max_position_embeddings`); given, any rows x columns
    /// grid whose image leaves `promptReserve` of it free is drawn (the meta text names the grid).
    public static func textModel(grid: Int, sizes: [Int]? = nil, endOfRowLayout: Bool = true, maxPositions: Int? = nil) -> ModelLimits {
        var l = ModelLimits(grid: grid, numClasses: 1, supportsGuidance: true)
        l.conditioning = .text
        l.sizes = sizes
        l.endOfRowLayout = endOfRowLayout
        l.maxImagePositions = maxPositions.map { max(0, $0 - promptReserve) }
        return l
    }

    /// Positions of the context a non-native grid leaves to the prompt and the layout's suffix: BOS, the
    /// image start, a meta text like "12*20", [IMG], EOF EOI EOS and a short caption. Submit cannot tokenize
    /// the caption; the decoder checks the real prompt plus image against the engine (`DecodingSetup.prompted`).
    public static let promptReserve = 16

    /// Positions a grid's image tokens take: rows x columns, plus one end-of-row token a row on that layout.
    public func imagePositions(_ size: ImageSize) -> Int {
        size.rows * (size.columns + (endOfRowLayout ? 1 : 0))
    }
}

/// What defines a model's images.
public enum Conditioning: String, Sendable, Equatable, Codable {
    /// A class id (class-conditional LlamaGen models): jobs carry `class`, never a prompt.
    case classLabel = "class"
    /// A free-text prompt (Emu3, Chameleon / Lumina-mGPT): jobs carry `prompt`, and `class` stays 0.
    case text
}
