import Foundation
import Kernels
import Model
import Tokenizer

/// `layout.json` of a text-to-image bundle (tools/train/text2img/layout.py writes it): the ids of the layout's
/// special tokens, where the image ids start, the grid, the meta text, and the VQ decoder's config.
///
/// The sequence: `[BOS] caption [SOI] meta [IMG] (row of W image ids, [EOL]) x H [EOF] [EOI] [EOS]`.
public struct TextImageLayoutFile: Sendable, Equatable {
    public var bos, eos, startOfImage, imageMarker, endOfRow, endOfFrame, endOfImage: Int
    /// The meta text's ids ("16*16": Emu3's "H*W").
    public var metaIDs: [Int]
    /// Vocabulary id of VQ code 0.
    public var imageOffset: Int
    public var codebookSize: Int
    public var rows: Int
    public var columns: Int
    /// The caption of the unconditional sequence (classifier-free guidance): empty in tools/train/text2img.
    public var uncondCaption: String
    /// The VQ decoder's config (`vq` block), when the bundle has one.
    public var vq: VQConfig?

    public static func load(path: String) throws -> TextImageLayoutFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError.missingFile(path) }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.badConfig(field: "layout.json", reason: "not a JSON object in \(path)")
        }
        func int(_ value: Any?, _ field: String) throws -> Int {
            guard let n = value as? Int else { throw ModelError.badConfig(field: field, reason: "missing or not an integer in \(path)") }
            return n
        }
        let specials = root["special_tokens"] as? [String: Any] ?? [:]
        func special(_ key: String) throws -> Int {
            try int((specials[key] as? [String: Any])?["id"], "special_tokens.\(key).id")
        }
        guard root["eol_after_each_row"] as? Bool ?? true else {
            throw ModelError.badConfig(field: "eol_after_each_row", reason: "false: only the end-of-row layout is supported")
        }
        let grid = root["grid"] as? [String: Any] ?? [:]
        guard let meta = root["meta_ids"] as? [Int] else {
            throw ModelError.badConfig(field: "meta_ids", reason: "missing or not a list of integers in \(path)")
        }
        var vq: VQConfig?
        if let block = root["vq"] {
            do {
                vq = try JSONDecoder().decode(VQConfig.self, from: JSONSerialization.data(withJSONObject: block))
            } catch {
                throw ModelError.badConfig(field: "vq", reason: "not a VQ config in \(path): \(error)")
            }
        }
        let file = TextImageLayoutFile(
            bos: try special("bos"), eos: try special("eos"), startOfImage: try special("soi"),
            imageMarker: try special("img"), endOfRow: try special("eol"), endOfFrame: try special("eof"),
            endOfImage: try special("eoi"), metaIDs: meta, imageOffset: try int(root["image_offset"], "image_offset"),
            codebookSize: try int(root["codebook_size"], "codebook_size"), rows: try int(grid["rows"], "grid.rows"),
            columns: try int(grid["cols"], "grid.cols"), uncondCaption: root["uncond_caption"] as? String ?? "", vq: vq)
        guard file.rows >= 1, file.columns >= 1, file.codebookSize >= 1, file.imageOffset >= 0 else {
            throw ModelError.badConfig(field: "grid", reason: "grid and codebook must be positive in \(path)")
        }
        return file
    }

    /// The tokens after the last row's end-of-row token.
    public var suffix: [Int] { [endOfFrame, endOfImage, eos] }
}

/// A text-to-image bundle folder (tools/train/text2img/export.py; `Tests/Fixtures/text-bundle-tiny` is a tiny
/// random one): `config.json` + `model.safetensors` (the Emu3-architecture transformer), `tokenizer.json`,
/// `layout.json`, and `vq.safetensors` (a LlamaGen-architecture VQ decoder, as in models/fashion-16).
public final class TextModelBundle: Sendable {
    public let directory: String
    public let transformer: TextTransformer
    public let tokenizer: Tokenizer
    public let layout: TextImageLayoutFile
    public let vq: VQDecoder?

    /// - storage: nil keeps an F16 checkpoint as f16 (exact), else f32 (`TextTransformer`).
    public init(directory: String, storage: WeightStorage? = nil) throws {
        self.directory = directory
        transformer = try TextTransformer(directory: directory, storage: storage)
        tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: directory + "/tokenizer.json"))
        layout = try TextImageLayoutFile.load(path: directory + "/layout.json")
        let vocab = transformer.config.vocabSize
        guard layout.imageOffset + layout.codebookSize <= vocab else {
            throw ModelError.badConfig(field: "image_offset", reason: "image ids \(layout.imageOffset)..<\(layout.imageOffset + layout.codebookSize) exceed the vocabulary of \(vocab)")
        }
        let vqPath = directory + "/vq.safetensors"
        if let c = layout.vq, FileManager.default.fileExists(atPath: vqPath) {
            vq = try VQDecoder(file: try SafeTensorsFile(path: vqPath), config: c)
        } else {
            vq = nil
        }
    }

    /// The prompt a caption conditions on: `[BOS] caption [SOI] meta [IMG]` (x(0,0) follows [IMG]), as
    /// tools/train/text2img/layout.py's `prefix` builds it. An empty caption is the unconditional prompt.
    /// `rows` x `columns` other than the native grid: the meta text names them, "H*W" as Emu3 writes it.
    public func promptTokens(caption: String, rows: Int? = nil, columns: Int? = nil) -> [Int] {
        let l = layout
        return [l.bos] + (caption.isEmpty ? [] : tokenizer.encode(caption)) + [l.startOfImage]
            + metaIDs(rows: rows ?? l.rows, columns: columns ?? l.columns) + [l.imageMarker]
    }

    /// The meta text's ids for a grid: layout.json's own ids for the native grid (what training saw, byte
    /// for byte), else the encoding of "H*W" (layout.py encodes its meta text the same way, without specials).
    public func metaIDs(rows: Int, columns: Int) -> [Int] {
        if rows == layout.rows && columns == layout.columns { return layout.metaIDs }
        return tokenizer.encode("\(rows)*\(columns)")
    }

    /// Decodes a finished grid of VQ codes (raster order, no end-of-row tokens) to an image; `rows` x
    /// `columns` (default: the native grid) gives an image of `rows * f` x `columns * f` pixels.
    public func image(codes: [Int], rows: Int? = nil, columns: Int? = nil) throws -> PixelImage {
        guard let vq else { throw ModelError.missingFile(directory + "/vq.safetensors") }
        let (h, w) = (rows ?? layout.rows, columns ?? layout.columns)
        let pixels = try vq.decode(tokens: codes, rows: h, columns: w)
        let f = vq.config.upsampling
        return try PixelImage(decoderOutput: pixels, channels: vq.config.outChannels, height: h * f, width: w * f)
    }
}
