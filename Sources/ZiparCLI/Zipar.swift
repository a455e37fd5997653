import ArgumentParser
import CLISupport
import Decoding
import Foundation
import ImageModels
import JobCore
import Model
import ModelCLI
import TextModel

@main
struct Zipar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar",
        abstract: "Generate images with a LlamaGen model, by next-token prediction or ZipAR parallel decoding.",
        discussion: "Policies: ntp (one token per pass); zipar:S (row i starts once row i-1 has S tokens: "
            + "(H-1)*S + W passes); adaptive:SMIN (draft each row's first token at SMIN, verify it by speculative "
            + "sampling as the row above grows); official:S (zipar:S on the official schedule). The same --seed "
            + "gives the same image whatever else shares the batch.\n" + ExitStatus.helpText(),
        version: ziparVersion,
        subcommands: [Generate.self, Compare.self, Heatmap.self, Logits.self, Decode.self])

    static func main() { mainAsTool() }
}

// MARK: - Shared options

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model directory with config.json, gpt.safetensors and vq.safetensors.")
    var model: String

    @Option(name: .long, help: "GPT weight file inside the model directory.")
    var gptFile: String = "gpt.safetensors"

    @OptionGroup var storage: StorageOptions

    /// The folder as an `ImageModel`, whichever family it is.
    func load() throws -> ImageModel {
        try checkFolder()
        do { return try ImageModel.load(directory: model, storage: storage.choice.storage, gptFile: gptFile) }
        catch { throw CLIError("cannot load model \(model): \(error)") }
    }

    /// The folder as a LlamaGen bundle, for the commands that speak of classes and raw token ids.
    func loadLlamaGen() throws -> ModelBundle {
        guard case .llamaGen(let bundle) = try load().family else {
            throw CLIError("model \(model) is a text-to-image bundle: this command takes class-conditional models")
        }
        return bundle
    }

    private func checkFolder() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("model directory \(model) does not exist")
        }
    }
}

struct AttentionOption: ParsableArguments {
    @Option(help: "Attention over not-yet-decoded cache slots: masked (skip them) or reference (attend zero K/V, like the official ZipAR code).")
    var attention: AttentionMode = .masked
}

func parseClasses(_ text: String, _ config: ModelConfig) throws -> [Int] {
    if text.lowercased() == "all" { return Array(0..<config.gpt.numClasses) }
    return try text.split(separator: ",").map { part in
        guard let id = config.classID(for: String(part)) else {
            let names = config.classNames.map { " or one of: " + $0.joined(separator: ", ") } ?? ""
            throw CLIError("unknown class '\(part)': expected 0..<\(config.gpt.numClasses)\(names)")
        }
        return id
    }
}

func writeFile(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    do { try Data(bytes).write(to: url) } catch { throw CLIError("cannot write \(path): \(error.localizedDescription)") }
}

func readTokens(_ path: String) throws -> [Int] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw CLIError("cannot read tokens file \(path)")
    }
    return try text.split(whereSeparator: { $0.isWhitespace || $0 == "," }).map {
        guard let v = Int($0) else { throw CLIError("tokens file \(path): '\($0)' is not an integer") }
        return v
    }
}

// MARK: - generate

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images and write them as PNGs.",
        discussion: "Image k of class c uses seed SEED+k, so a run is reproducible image by image. "
            + "Writes OUT/<class>-<seed>.png, OUT/<class>-<seed>.tokens (the token grid) and OUT/manifest.tsv "
            + "(one line per image: file, class, seed, policy, passes, queries, seconds, drafts, accepted).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var log: LogOptions
    @Option(name: .customLong("class"), help: "Class id or name; a comma list, or 'all' (class-conditional models).")
    var classLabel: String?
    @Option(help: "Text-to-image bundles (a folder with layout.json and tokenizer.json): the prompt.")
    var prompt: String?
    @Option(help: "Text-to-image bundles: a file of prompts, one per line as plain text (blank lines and lines starting with # are skipped); --count images each, all decoded in one continuous batch.")
    var prompts: String?
    @Option(help: "Text-to-image bundles: what guidance steers away from (replaces the empty prompt; needs --cfg).")
    var negativePrompt: String?
    @Option(help: "Images per class (per prompt).")
    var count: Int = 8
    @Option(help: "Seed of the first image of each class; image k uses seed + k.")
    var seed: UInt64 = Defaults.seed
    @Option(help: "Decoding policy: \(WindowPolicy.helpList).")
    var policy = WindowPolicy.ntp
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var attention: AttentionOption
    @OptionGroup var batching: BatchOptions
    @Option(help: "Upscale the written PNGs by this integer factor.")
    var scale: Int = 1
    @Flag(help: "Write only the token files and the manifest, no PNGs.")
    var tokensOnly = false
    @Option(help: "Also write all images as one uint8 .npy [images, height, width(, channels)] in request order (class-major, or prompt-major).")
    var npy: String?
    @Option(help: "Also write one PNG sheet of all images: one row per class (or prompt), labelled (the README's sample grid).")
    var sheet: String?
    @Option(help: "Output directory.")
    var out: String

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if scale < 1 { throw ValidationError("--scale must be at least 1") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let choice = ConditioningChoice(classLabel: classLabel, prompts: try promptList(prompt: prompt, file: prompts),
                                        negativePrompt: negativePrompt, promptsFromFile: prompts != nil)
        let groups = try choice.groups(for: model)
        if (!tokensOnly || npy != nil || sheet != nil) && !model.hasImageDecoder {
            throw CLIError("model \(modelOptions.model) has no vq.safetensors: use --tokens-only without --npy/--sheet")
        }
        var requests: [GenerationRequest] = []
        var groupOf: [String: Int] = [:]
        for (i, g) in groups.enumerated() {
            for k in 0..<count {
                let s = seed + UInt64(k)
                var p = try sampling.parameters(policy: policy, seed: s)
                g.condition(&p)
                let id = g.fileName(s)
                groupOf[id] = i
                requests.append(GenerationRequest(id: id, parameters: p))
            }
        }
        // `--out x.png` with one image writes that file; otherwise --out is a folder.
        let singleFile = out.lowercased().hasSuffix(".png") && requests.count == 1
        if !singleFile { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        let spec = requests[0].parameters.policyText
        var manifest = ConditioningChoice.manifestHeader(model.kind) + "\tpolicy\tpasses\tqueries\tseconds\tdrafts\taccepted\n"
        var images: [String: PixelImage] = [:]
        let t0 = Date()
        let results = try decodeAll(model, requests, batch: batching.batch, maxQueries: batching.maxQueries,
                                    mode: attention.attention) { r in
            let base = singleFile ? String(out.dropLast(4)) : "\(out)/\(r.id)"
            try writeTokens(r.tokens, to: base + ".tokens")
            if !tokensOnly || npy != nil || sheet != nil {
                let img = try model.image(codes: r.tokens, size: r.request.parameters.size)
                if npy != nil || sheet != nil { images[r.id] = img }
                if !tokensOnly { try writeFile(try img.scaled(by: scale).pngData(), to: base + ".png") }
            }
            let st = r.stats, group = groups[groupOf[r.id] ?? 0]
            manifest += "\(r.id)\t\(group.manifestColumns)\t\(r.request.seed)\t\(spec)\t\(manifestStats(st))\n"
            print("\(base)\(tokensOnly ? ".tokens" : ".png")  \(group.label)  seed \(r.request.seed)  policy \(spec)  passes \(st.passes)  "
                  + "queries \(st.queries)  " + String(format: "%.2f s", st.wallSeconds)
                  + (st.drafts > 0 ? "  drafts \(st.drafts) accepted \(st.accepted)" : ""))
        }
        if !singleFile { try writeFile(Array(manifest.utf8), to: "\(out)/manifest.tsv") }
        // Request order is group-major, seed-minor: the order the evaluation tools read the .npy in.
        if let npy { try writeNpy(requests.compactMap { images[$0.id] }, to: npy) }
        if let sheet {
            let rows = groups.enumerated().map { i, g in
                (label: g.label, images: requests.filter { groupOf[$0.id] == i }.compactMap { images[$0.id]?.scaled(by: scale) })
            }
            try writeFile(try classSheet(rows: rows).pngData(), to: sheet)
            print("wrote \(sheet)")
        }
        printRunSummary(results, spec: spec, ntpPasses: model.grid(sampling.size).tokens, since: t0)
    }
}

// MARK: - compare / heatmap

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Contact sheet: the same class and seed under several policies, side by side, with pass counts and decode-order heatmaps.",
        discussion: "Policies: ntp, zipar:S, adaptive:SMIN, official:S (zipar:S on the official schedule).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var panels: PanelConditioning
    @Option(help: "Comma-separated policies: \(WindowPolicy.syntaxList).")
    var policies = CommaList<WindowPolicy>([.ntp, .zipar(window: 8), .adaptive(minWindow: 4)])
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var attention: AttentionOption
    @Option(help: "Pixels per image pixel in the sheet.")
    var scale: Int = 4
    @Flag(inversion: .prefixedNo, help: "Draw the decode-order heatmap under each image.")
    var heatmaps = true
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let model = try modelOptions.load()
        try writeSheet(model: model, group: try panels.group(for: model), seed: panels.seed, specs: policies.values, sampling: sampling,
                       attention: attention.attention, scale: scale, images: model.hasImageDecoder, heatmaps: heatmaps, out: out)
    }
}

struct Heatmap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode-order heatmap: each token cell coloured by the pass that decoded it (dark early, yellow late).",
        discussion: "ZipAR's diagonal wavefront shows as diagonal colour bands; ntp as a raster gradient. Several policies give one panel each.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var panels: PanelConditioning
    @Option(help: "Comma-separated policies: \(WindowPolicy.syntaxList).")
    var policies = CommaList<WindowPolicy>([.zipar(window: 4)])
    @Option(name: .customLong("policy"), help: .hidden)
    var deprecatedPolicy: CommaList<WindowPolicy>?
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var attention: AttentionOption
    @Option(help: "Pixels per token cell.")
    var cell: Int = 8
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let model = try modelOptions.load()
        var specs = policies.values
        if let old = deprecatedPolicy { warnDeprecated("--policy", use: "--policies"); specs = old.values }
        try writeSheet(model: model, group: try panels.group(for: model), seed: panels.seed, specs: specs, sampling: sampling, attention: attention.attention,
                       scale: max(1, cell * model.columns / model.imageSide), images: false, heatmaps: true, out: out)
    }
}

/// What every panel of a compare / heatmap sheet is conditioned on: one class or one prompt, one seed.
struct PanelConditioning: ParsableArguments {
    @Option(name: .customLong("class"), help: "Class id or name (class-conditional models; default 0).")
    var classLabel: String?
    @Option(help: "Text-to-image bundles: the prompt of every panel.")
    var prompt: String?
    @Option(help: "Seed of every panel.")
    var seed: UInt64 = Defaults.seed

    /// The panels' class or prompt (class 0 when a class-conditional model is given neither).
    func group(for model: ImageModel) throws -> ImageGroup {
        let classDefault = model.kind == .llamaGen && prompt == nil ? "0" : nil
        return try ConditioningChoice(classLabel: classLabel ?? classDefault, prompts: prompt.map { [$0] }, negativePrompt: nil,
                                      promptsFromFile: false).groups(for: model, single: true)[0]
    }
}

func writeSheet(model: ImageModel, group: ImageGroup, seed: UInt64, specs: [WindowPolicy], sampling: SamplingOptions,
                attention: AttentionMode, scale: Int, images: Bool, heatmaps: Bool, out: String) throws {
    let requests = try specs.enumerated().map { k, s in
        var p = try sampling.parameters(policy: s, seed: seed)
        group.condition(&p)
        return GenerationRequest(id: "\(k)", parameters: p)
    }
    let results = try decodeAll(model, requests, batch: requests.count, maxQueries: 2048, mode: attention)
    let grid = model.grid(sampling.size)
    try writeSheet(results: results, grid: grid, cell: model.imageSide / model.columns * scale,
                   image: images ? { try model.image(codes: $0, size: sampling.size).scaled(by: scale) } : nil, heatmaps: heatmaps,
                   title: "\(group.label) seed \(seed)", out: out)
}

/// The contact sheet of finished requests, one column per policy: picture (when `image` is given), decode-order
/// heatmap, policy and pass count. Shared by class-conditional and text-to-image models; `grid` is rows x
/// columns (a `--size HxW` grid), `cell` the pixels a token takes in the picture and the heatmap.
func writeSheet(results: [GenerationResult], grid: ImageSize, cell: Int, image: (([Int]) throws -> PixelImage)?,
                heatmaps: Bool, title: String, out: String) throws {
    let cell = max(cell, 1)
    // One band width for all panels (from the slowest), so stripes are comparable; colours per panel.
    let band = max(1, (results.map(\.stats.passes).max()! + 15) / 32)
    var columns: [(images: [PixelImage], labels: [String])] = []
    for r in results {
        let spec = r.request.parameters.policyText
        var imgs: [PixelImage] = []
        if let image { imgs.append(try image(r.tokens)) }
        if heatmaps { imgs.append(heatmap(decodeStep: r.decodeStep, rows: grid.rows, columns: grid.columns, cell: cell, maxPass: r.stats.passes - 1, band: band)) }
        var labels = [spec, "\(r.stats.passes) passes"]
        if r.stats.drafts > 0 { labels.append("\(r.stats.accepted)/\(r.stats.drafts) acc") }
        columns.append((imgs, labels))
        print("\(spec): \(r.stats.passes) passes, \(String(format: "%.2f", r.stats.wallSeconds)) s"
              + (r.stats.drafts > 0 ? ", drafts \(r.stats.drafts), accepted \(r.stats.accepted), row windows \(r.stats.rowWindows)" : ""))
    }
    try writeFile(try contactSheet(columns: columns, title: title).pngData(), to: out)
    print("wrote \(out)")
}

// MARK: - logits / decode

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teacher-forced logits of a token sequence, as a float32 .npy [tokens, vocab].",
        discussion: "Row t holds the logits that predict token t given the class and tokens 0..<t (one forward pass, all positions as queries).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var log: LogOptions
    @Option(name: .customLong("class"), help: "Class id or name (or 'null' for the null class).")
    var classLabel: String
    @Option(help: "File of whitespace-separated token ids (at most grid*grid).")
    var tokens: String
    @OptionGroup var attention: AttentionOption
    @Option(help: "Output .npy file.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.loadLlamaGen()
        let c = bundle.config.gpt
        let cls = classLabel.lowercased() == "null" ? bundle.gpt.nullClass : try parseClasses(classLabel, bundle.config)[0]
        let toks = try readTokens(tokens)
        guard !toks.isEmpty else { throw CLIError("tokens file \(tokens) holds no tokens") }
        let engine = bundle.gpt.engine(maxQueries: c.sequenceLength, maxSequences: 1, attentionMode: attention.attention)
        let rows: [[Float]]
        do { rows = try engine.teacherForcedLogits(config: c, classLabel: cls, tokens: toks) } catch { throw CLIError("\(error)") }
        try writeFile(npyFloat32(rows.flatMap { $0 }, shape: [rows.count, c.vocabSize]), to: out)
        print("wrote \(out): [\(rows.count), \(c.vocabSize)] float32")
    }
}

/// NumPy .npy v1.0, little-endian float32, C order.
func npyFloat32(_ values: [Float], shape: [Int]) -> [UInt8] {
    var out = npyHeader(descr: "<f4", shape: shape)
    out.reserveCapacity(out.count + values.count * 4)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
    return out
}

func npyUInt8(_ values: [UInt8], shape: [Int]) -> [UInt8] {
    npyHeader(descr: "|u1", shape: shape) + values
}

// MARK: - generate outputs, shared by the class-conditional and the prompt paths

/// A `.tokens` file: the token grid in raster order, space-separated.
func writeTokens(_ tokens: [Int], to path: String) throws {
    try writeFile(Array((tokens.map(String.init).joined(separator: " ") + "\n").utf8), to: path)
}

/// The manifest columns every generate run ends its lines with (the header's `passes ... accepted`).
func manifestStats(_ st: GenerationStats) -> String {
    "\(st.passes)\t\(st.queries)\t" + String(format: "%.3f", st.wallSeconds) + "\t\(st.drafts)\t\(st.accepted)"
}

/// `images` (all the same size) as one uint8 .npy [images, height, width(, channels)], in the given order.
func writeNpy(_ images: [PixelImage], to path: String) throws {
    guard let first = images.first else { return }
    var shape = [images.count, first.height, first.width]
    if first.channels > 1 { shape.append(first.channels) }
    try writeFile(npyUInt8(images.flatMap(\.pixels), shape: shape), to: path)
}

/// The last line of a generate run.
func printRunSummary(_ results: [GenerationResult], spec: String, ntpPasses: Int, since t0: Date) {
    let wall = Date().timeIntervalSince(t0)
    let mean = Double(results.map(\.stats.passes).reduce(0, +)) / Double(results.count)
    print("\(results.count) images, policy \(spec), mean passes \(String(format: "%.1f", mean)) (ntp \(ntpPasses)), "
          + "wall \(String(format: "%.2f", wall)) s, " + String(format: "%.3f s/image", wall / Double(results.count)))
}

func npyHeader(descr: String, shape: [Int]) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    let total = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    let n = UInt16(header.utf8.count)
    out += [UInt8(n & 0xFF), UInt8(n >> 8)]
    out += Array(header.utf8)
    return out
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode a token grid (whitespace-separated ids, raster order) to a PNG with the model's VQ decoder.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var log: LogOptions
    @Option(help: "File of grid*grid whitespace-separated token ids.")
    var tokens: String
    @Option(help: "Upscale by this integer factor.")
    var scale: Int = 1
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.loadLlamaGen()
        let toks = try readTokens(tokens)
        let c = bundle.config.gpt
        guard toks.count == c.imageTokens else { throw CLIError("expected \(c.imageTokens) tokens (\(c.grid)x\(c.grid)), got \(toks.count)") }
        if let bad = toks.first(where: { $0 < 0 || $0 >= c.vocabSize }) { throw CLIError("token \(bad) is outside 0..<\(c.vocabSize)") }
        let img = try bundle.image(tokens: toks).scaled(by: max(scale, 1))
        try writeFile(try img.pngData(), to: out)
        print("wrote \(out) (\(img.width)x\(img.height))")
    }
}

extension Generate: LogConfigurable { var logOptions: LogOptions { log } }
extension Compare: LogConfigurable { var logOptions: LogOptions { log } }
extension Heatmap: LogConfigurable { var logOptions: LogOptions { log } }
extension Logits: LogConfigurable { var logOptions: LogOptions { log } }
extension Decode: LogConfigurable { var logOptions: LogOptions { log } }
