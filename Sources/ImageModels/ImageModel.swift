import Decoding
import Foundation
import JobCore
import Kernels
import Model
import TextModel

/// A loaded model folder of any family, as every tool uses it: zipar generate / compare, zipar-worker's
/// executors and zipar-bench ask it for the limits jobs are validated against, the passes next-token
/// prediction needs, a scheduler over its engine, the image of a finished grid of codes, and a probe.
/// Only `load` and the `Family` switches below know which family a folder is.
public final class ImageModel: Sendable {
    /// What was loaded: a LlamaGen bundle (class-conditional), a text-to-image bundle with end-of-row tokens
    /// (Emu3 / Chameleon architecture), or a Janus / Janus-Pro checkpoint.
    public enum Family: Sendable {
        case llamaGen(ModelBundle)
        case text(TextModelBundle)
        case janus(JanusBundle)
    }

    public let directory: String
    public let identity: ModelFolderIdentity
    public let family: Family

    public init(directory: String, identity: ModelFolderIdentity, family: Family) {
        self.directory = directory; self.identity = identity; self.family = family
    }

    /// Loads `directory`, whichever kind it is (`ModelKind.of`).
    /// - storage: nil = auto (f16 when the checkpoint's matrices are F16, else f32).
    /// - gptFile: LlamaGen only, the GPT weight file inside the folder.
    public static func load(directory: String, storage: WeightStorage? = nil, gptFile: String = "gpt.safetensors") throws -> ImageModel {
        let identity = try ModelFolderIdentity.load(directory: directory)
        switch identity.kind {
        case .llamaGen:
            return ImageModel(directory: directory, identity: identity,
                              family: .llamaGen(try ModelBundle(directory: directory, storage: storage, gptFile: gptFile)))
        case .text where !identity.limits.endOfRowLayout:
            return ImageModel(directory: directory, identity: identity, family: .janus(try JanusBundle(directory: directory, storage: storage)))
        case .text:
            return ImageModel(directory: directory, identity: identity,
                              family: .text(try TextModelBundle(directory: directory, storage: storage)))
        }
    }

    /// The name jobs for this model carry.
    public var name: String { identity.name }
    public var kind: ModelKind { identity.kind }

    /// The limits jobs for this model are validated against.
    public var limits: ModelLimits {
        switch family {
        case .llamaGen(let b): return b.gpt.limits
        case .text(let b): return b.limits
        case .janus(let b): return b.limits
        }
    }

    /// The token grid.
    public var rows: Int {
        switch family {
        case .llamaGen(let b): return b.config.gpt.grid
        case .text(let b): return b.layout.rows
        case .janus(let b): return b.generation.grid
        }
    }

    public var columns: Int {
        switch family {
        case .llamaGen(let b): return b.config.gpt.grid
        case .text(let b): return b.layout.columns
        case .janus(let b): return b.generation.grid
        }
    }

    /// Passes plain next-token prediction needs: one per image token (the stats' baseline).
    public var ntpPasses: Int { rows * columns }

    /// How the weights are kept in memory.
    public var storage: WeightStorage {
        switch family {
        case .llamaGen(let b): return b.storage
        case .text(let b): return b.transformer.weights.storage
        case .janus(let b): return b.transformer.weights.storage
        }
    }

    /// The transformer every pass runs.
    public var decoder: DecoderModel {
        switch family {
        case .llamaGen(let b): return b.gpt.decoder
        case .text(let b): return b.transformer.decoder
        case .janus(let b): return b.transformer.decoder
        }
    }

    /// Whether the folder has a VQ decoder (else only token grids can be produced).
    public var hasImageDecoder: Bool {
        switch family {
        case .llamaGen(let b): return b.vq != nil
        case .text(let b): return b.vq != nil
        case .janus: return true
        }
    }

    /// Side of a decoded image in pixels (the grid's when there is no VQ decoder).
    public var imageSide: Int {
        switch family {
        case .llamaGen(let b): return b.config.gpt.grid * (b.vq?.config.upsampling ?? 1)
        case .text(let b): return b.layout.columns * (b.vq?.config.upsampling ?? 1)
        case .janus(let b): return b.generation.grid * b.vq.config.upsampling
        }
    }

    /// An engine sized for `batch` requests (two sequences each with guidance), `maxQueries` queries a pass.
    public func engine(batch: Int, maxQueries: Int, attentionMode: AttentionMode = .masked) -> DecoderTokenEngine {
        switch family {
        case .llamaGen(let b): return DecoderTokenEngine(gpt: b.gpt, batch: batch, maxQueries: maxQueries, attentionMode: attentionMode)
        case .text(let b): return DecoderTokenEngine(textBundle: b, batch: batch, maxQueries: maxQueries, attentionMode: attentionMode)
        case .janus(let b): return DecoderTokenEngine(janus: b, batch: batch, maxQueries: maxQueries, attentionMode: attentionMode)
        }
    }

    /// A continuous-batching scheduler over a fresh engine.
    public func scheduler(batch: Int, maxQueries: Int, attentionMode: AttentionMode = .masked) -> BatchScheduler {
        BatchScheduler(engine: engine(batch: batch, maxQueries: maxQueries, attentionMode: attentionMode),
                       limits: SchedulerLimits(maxRequestsInFlight: batch, maxQueriesPerPass: maxQueries))
    }

    /// Decodes a finished grid of VQ codes (raster order) to an image. `size`: the job's grid (nil = the
    /// native one); only text bundles draw other grids (`limits.maxImagePositions`), the others refuse them.
    public func image(codes: [Int], size: ImageSize? = nil) throws -> PixelImage {
        let grid = self.grid(size)
        switch family {
        case .llamaGen(let b) where grid == ImageSize(rows: rows, columns: columns): return try b.image(tokens: codes)
        case .janus(let b) where grid == ImageSize(rows: rows, columns: columns): return try b.image(codes: codes)
        case .text(let b): return try b.image(codes: codes, rows: grid.rows, columns: grid.columns)
        default: throw ModelError.badInput("size \(grid): this model decodes its \(rows)x\(columns) grid only")
        }
    }

    /// The grid a job of `size` draws: `size`, or the native grid.
    public func grid(_ size: ImageSize?) -> ImageSize { size ?? ImageSize(rows: rows, columns: columns) }

    /// Checks at load what jobs will need, so a broken model fails at start and not after every job has been
    /// decoded: the VQ decoder must be there, no weight may be NaN or infinite (such a model marks every job
    /// done with noise), one pass of a request must run (for a text model: the tokenizer and a prompt prefill)
    /// and one grid of codes must decode to finite pixels.
    public func probe() throws {
        guard hasImageDecoder else { throw ModelError.missingFile(directory + "/vq.safetensors") }
        try SafeTensorsFile.requireFinite(inDirectory: directory)
        let scheduler = scheduler(batch: 1, maxQueries: 8)
        var p = JobParameters(classLabel: 0, seed: 0)
        if kind == .text { p.prompt = "probe" }
        try scheduler.add(GenerationRequest(id: "probe", parameters: p))
        _ = scheduler.step()
        _ = try image(codes: [Int](repeating: 0, count: ntpPasses))   // throws on non-finite pixels
    }

    /// What the worker logs at load.
    public var details: [String: String] {
        ["kind": kind.rawValue, "grid": "\(rows)x\(columns)", "storage": "\(storage)"]
    }
}
