import ArgumentParser
import Decoding
import Foundation
import Kernels
import Model

@main
struct Zipar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zipar",
        abstract: "Generate images with a LlamaGen model, by next-token prediction or ZipAR parallel decoding.",
        discussion: "Policies: ntp (one token per pass); zipar:S (row i starts once row i-1 has S tokens: "
            + "(H-1)*S + W passes); adaptive:SMIN (draft each row's first token at SMIN, verify it by speculative "
            + "sampling as the row above grows). The same --seed gives the same image whatever else shares the batch.",
        subcommands: [Generate.self, Compare.self, Heatmap.self, Logits.self, Decode.self])
}

// MARK: - Shared options

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model directory with config.json, gpt.safetensors and vq.safetensors.")
    var model: String

    @Option(name: .long, help: "GPT weight file inside the model directory.")
    var gptFile: String = "gpt.safetensors"

    @Option(name: .long, help: "Weight and KV-cache storage while decoding: auto (f16 when the file's matrices are F16, else f32), f32 (exact), f16 (half the bytes; logits within ~1e-2).")
    var storage: String = "auto"

    func load() throws -> ModelBundle {
        guard let choice = StorageChoice(rawValue: storage) else {
            throw ValidationError("--storage must be auto, f32 or f16 (got '\(storage)')")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("model directory \(model) does not exist")
        }
        do { return try ModelBundle(directory: model, storage: choice.storage, gptFile: gptFile) }
        catch { throw CLIError("cannot load model \(model): \(error)") }
    }
}

struct SamplingOptions: ParsableArguments {
    @Option(help: "Classifier-free guidance scale (1 = off; needs the model's null-class row).")
    var cfg: Float = 1.0
    @Option(help: "Apply guidance only to the first N image tokens (raster index).")
    var cfgInterval: Int?
    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 1.0
    @Option(help: "Keep only the K most likely tokens (0 = off).")
    var topK: Int = 0
    @Option(help: "Nucleus sampling: keep the smallest set of tokens with this much mass (1 = off).")
    var topP: Float = 1.0
    @Option(help: "Attention over not-yet-decoded cache slots: masked (skip them) or reference (attend zero K/V, like the official ZipAR code).")
    var attention: String = "masked"
    @Flag(help: "Reproduce the official ZipAR schedule: the whole first row by NTP before rows overlap (2W + (H-2)S passes).")
    var officialSchedule = false

    var params: SamplingParams {
        SamplingParams(temperature: temperature, topK: topK, topP: topP, cfgScale: cfg, cfgInterval: cfgInterval)
    }
    func mode() throws -> AttentionMode {
        guard let m = AttentionMode(rawValue: attention) else { throw ValidationError("--attention must be masked or reference") }
        return m
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// `ntp`, `zipar:S`, `adaptive:S`, and in lists `official:S` (zipar:S on the official schedule).
struct PolicySpec: CustomStringConvertible {
    var policy: WindowPolicy
    var official: Bool
    init(_ text: String, official: Bool = false) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("official:") {
            policy = try WindowPolicy(parsing: "zipar:" + t.dropFirst("official:".count)); self.official = true
        } else if t.hasSuffix("+official") {
            policy = try WindowPolicy(parsing: String(t.dropLast("+official".count))); self.official = true
        } else {
            policy = try WindowPolicy(parsing: t); self.official = official
        }
    }
    var description: String {
        guard official else { return "\(policy)" }
        if case .zipar(let s) = policy { return "official:\(s)" }
        return "\(policy)+official"
    }
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

func schedulerFor(_ bundle: ModelBundle, batch: Int, maxQueries: Int, mode: AttentionMode) -> BatchScheduler {
    let engine = GPTEngine(model: bundle.gpt, maxQueries: maxQueries, maxSequences: 2 * batch, attentionMode: mode)
    return BatchScheduler(engine: engine, limits: SchedulerLimits(maxRequestsInFlight: batch, maxQueriesPerPass: maxQueries))
}

/// Decodes requests with the scheduler, reporting errors as CLI errors.
func decodeAll(_ bundle: ModelBundle, _ requests: [GenerationRequest], batch: Int, maxQueries: Int, mode: AttentionMode,
               onResult: ((GenerationResult) throws -> Void)? = nil) throws -> [GenerationResult] {
    let s = schedulerFor(bundle, batch: batch, maxQueries: maxQueries, mode: mode)
    var pending = requests[...]
    var done: [String: GenerationResult] = [:]
    while !pending.isEmpty || s.inFlight > 0 {
        while let next = pending.first, s.hasCapacity {
            do { try s.add(next) } catch { throw CLIError("request \(next.id): \(error)") }
            pending = pending.dropFirst()
        }
        for r in s.step() { done[r.id] = r; try onResult?(r) }
    }
    return requests.map { done[$0.id]! }
}

// MARK: - generate

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate images and write them as PNGs.",
        discussion: "Image k of class c uses seed SEED+k, so a run is reproducible image by image. "
            + "Writes OUT/<class>-<seed>.png, OUT/<class>-<seed>.tokens (the token grid) and OUT/manifest.tsv "
            + "(one line per image: file, class, seed, policy, passes, queries, seconds, drafts, accepted).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("class"), help: "Class id or name; a comma list, or 'all'.")
    var classLabel: String
    @Option(help: "Images per class.")
    var count: Int = 8
    @Option(help: "Seed of the first image of each class; image k uses seed + k.")
    var seed: UInt64 = 1
    @Option(help: "Decoding policy: ntp, zipar:S or adaptive:SMIN.")
    var policy: String = "ntp"
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Images decoded at the same time (continuous batching).")
    var batch: Int = 8
    @Option(help: "Cap on queries per forward pass.")
    var maxQueries: Int = 256
    @Option(help: "Upscale the written PNGs by this integer factor.")
    var scale: Int = 1
    @Flag(help: "Write only the token files and the manifest, no PNGs.")
    var tokensOnly = false
    @Option(help: "Also write all images as one uint8 .npy [images, height, width(, channels)] in request order (class-major).")
    var npy: String?
    @Option(help: "Also write one PNG sheet of all images: one row per class, labelled (the README's sample grid).")
    var sheet: String?
    @Option(help: "Output directory.")
    var out: String

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if maxQueries < 2 { throw ValidationError("--max-queries must be at least 2") }
        if scale < 1 { throw ValidationError("--scale must be at least 1") }
    }

    func run() throws {
        let spec = try PolicySpec(policy, official: sampling.officialSchedule)
        let bundle = try modelOptions.load()
        let classes = try parseClasses(classLabel, bundle.config)
        if !tokensOnly && bundle.vq == nil { throw CLIError("model \(modelOptions.model) has no vq.safetensors: use --tokens-only") }
        try spec.policy.validate(grid: bundle.config.gpt.grid)
        var requests: [GenerationRequest] = []
        for c in classes {
            for k in 0..<count {
                let s = seed + UInt64(k)
                requests.append(GenerationRequest(id: "\(c)-\(s)", classLabel: c, policy: spec.policy,
                                                  sampling: sampling.params, seed: s, officialSchedule: spec.official))
            }
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var manifest = "file\tclass\tseed\tpolicy\tpasses\tqueries\tseconds\tdrafts\taccepted\n"
        if (npy != nil || sheet != nil) && bundle.vq == nil { throw CLIError("--npy and --sheet need the model's vq.safetensors") }
        var images: [String: PixelImage] = [:]
        let t0 = Date()
        let results = try decodeAll(bundle, requests, batch: batch, maxQueries: maxQueries, mode: try sampling.mode()) { r in
            let name = r.id
            try writeFile(Array((r.tokens.map(String.init).joined(separator: " ") + "\n").utf8), to: "\(out)/\(name).tokens")
            if !tokensOnly || npy != nil {
                let img = try bundle.image(tokens: r.tokens)
                if npy != nil || sheet != nil { images[name] = img }
                if !tokensOnly { try writeFile(try img.scaled(by: scale).pngData(), to: "\(out)/\(name).png") }
            }
            let st = r.stats
            manifest += "\(name)\t\(r.request.classLabel)\t\(r.request.seed)\t\(spec)\t\(st.passes)\t\(st.queries)\t"
                + String(format: "%.3f", st.wallSeconds) + "\t\(st.drafts)\t\(st.accepted)\n"
            print("\(name)\(tokensOnly ? "" : ".png")  class \(bundle.config.className(r.request.classLabel))  passes \(st.passes)  "
                  + String(format: "%.2f s", st.wallSeconds)
                  + (st.drafts > 0 ? "  drafts \(st.drafts) accepted \(st.accepted)" : ""))
        }
        try writeFile(Array(manifest.utf8), to: "\(out)/manifest.tsv")
        if let npy, let first = images[results[0].id] {
            var shape = [results.count, first.height, first.width]
            if first.channels > 1 { shape.append(first.channels) }
            try writeFile(npyUInt8(results.flatMap { images[$0.id]!.pixels }, shape: shape), to: npy)
        }
        if let sheet {
            let rows = classes.map { c in
                (label: bundle.config.className(c),
                 images: results.filter { $0.request.classLabel == c }.sorted { $0.request.seed < $1.request.seed }
                     .compactMap { images[$0.id]?.scaled(by: scale) })
            }
            try writeFile(try classSheet(rows: rows).pngData(), to: sheet)
            print("wrote \(sheet)")
        }
        let wall = Date().timeIntervalSince(t0)
        let passes = results.map(\.stats.passes)
        print("\(results.count) images, policy \(spec), mean passes \(String(format: "%.1f", Double(passes.reduce(0, +)) / Double(passes.count)))"
              + " (ntp \(bundle.config.gpt.imageTokens)), wall \(String(format: "%.2f", wall)) s, "
              + String(format: "%.3f s/image", wall / Double(results.count)))
    }
}

// MARK: - compare / heatmap

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Contact sheet: the same class and seed under several policies, side by side, with pass counts and decode-order heatmaps.",
        discussion: "Policies: ntp, zipar:S, adaptive:SMIN, official:S (zipar:S on the official schedule).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("class"), help: "Class id or name.")
    var classLabel: String
    @Option(help: "Seed shared by all panels.")
    var seed: UInt64 = 1
    @Option(help: "Comma-separated policies.")
    var policies: String = "ntp,zipar:8,adaptive:4"
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Pixels per image pixel in the sheet.")
    var scale: Int = 4
    @Flag(inversion: .prefixedNo, help: "Draw the decode-order heatmap under each image.")
    var heatmaps = true
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.load()
        let cls = try parseClasses(classLabel, bundle.config)
        guard cls.count == 1 else { throw CLIError("--class takes one class here") }
        let specs = try policies.split(separator: ",").map { try PolicySpec(String($0), official: sampling.officialSchedule) }
        try writeSheet(bundle: bundle, classID: cls[0], seed: seed, specs: specs, sampling: sampling, scale: scale,
                       images: bundle.vq != nil, heatmaps: heatmaps, out: out)
    }
}

struct Heatmap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode-order heatmap: each token cell coloured by the pass that decoded it (dark early, yellow late).",
        discussion: "ZipAR's diagonal wavefront shows as diagonal colour bands; ntp as a raster gradient. Several policies give one panel each.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("class"), help: "Class id or name.")
    var classLabel: String = "0"
    @Option(help: "Seed.")
    var seed: UInt64 = 1
    @Option(help: "Comma-separated policies (ntp, zipar:S, adaptive:SMIN, official:S).")
    var policy: String = "zipar:4"
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "Pixels per token cell.")
    var cell: Int = 8
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.load()
        let cls = try parseClasses(classLabel, bundle.config)
        let specs = try policy.split(separator: ",").map { try PolicySpec(String($0), official: sampling.officialSchedule) }
        let grid = bundle.config.gpt.grid
        try writeSheet(bundle: bundle, classID: cls[0], seed: seed, specs: specs, sampling: sampling,
                       scale: max(1, cell * grid / ((bundle.vq.map { grid * $0.config.upsampling }) ?? grid)),
                       images: false, heatmaps: true, out: out)
    }
}

func writeSheet(bundle: ModelBundle, classID: Int, seed: UInt64, specs: [PolicySpec], sampling: SamplingOptions,
                scale: Int, images: Bool, heatmaps: Bool, out: String) throws {
    let requests = specs.enumerated().map { k, s in
        GenerationRequest(id: "\(k)", classLabel: classID, policy: s.policy, sampling: sampling.params, seed: seed,
                          officialSchedule: s.official)
    }
    let results = try decodeAll(bundle, requests, batch: requests.count, maxQueries: 1024, mode: try sampling.mode())
    let grid = bundle.config.gpt.grid
    let side = (bundle.vq.map { grid * $0.config.upsampling } ?? grid) * scale
    let cell = max(side / grid, 1)
    // One band width for all panels (from the slowest), so stripes are comparable; colours per panel.
    let band = max(1, (results.map(\.stats.passes).max()! + 15) / 32)
    var columns: [(images: [PixelImage], labels: [String])] = []
    for (spec, r) in zip(specs, results) {
        var imgs: [PixelImage] = []
        if images { imgs.append(try bundle.image(tokens: r.tokens).scaled(by: scale)) }
        if heatmaps { imgs.append(heatmap(decodeStep: r.decodeStep, grid: grid, cell: cell, maxPass: r.stats.passes - 1, band: band)) }
        var labels = [spec.description, "\(r.stats.passes) passes"]
        if r.stats.drafts > 0 { labels.append("\(r.stats.accepted)/\(r.stats.drafts) acc") }
        columns.append((imgs, labels))
        print("\(spec): \(r.stats.passes) passes, \(String(format: "%.2f", r.stats.wallSeconds)) s"
              + (r.stats.drafts > 0 ? ", drafts \(r.stats.drafts), accepted \(r.stats.accepted), row windows \(r.stats.rowWindows)" : ""))
    }
    let title = "\(bundle.config.className(classID)) seed \(seed)"
    try writeFile(try contactSheet(columns: columns, title: title).pngData(), to: out)
    print("wrote \(out)")
}

// MARK: - logits / decode

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teacher-forced logits of a token sequence, as a float32 .npy [tokens, vocab].",
        discussion: "Row t holds the logits that predict token t given the class and tokens 0..<t (one forward pass, all positions as queries).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("class"), help: "Class id or name (or 'null' for the null class).")
    var classLabel: String
    @Option(help: "File of whitespace-separated token ids (at most grid*grid).")
    var tokens: String
    @Option(help: "Attention mode: masked or reference.")
    var attention: String = "masked"
    @Option(help: "Output .npy file.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.load()
        let c = bundle.config.gpt
        let cls = classLabel.lowercased() == "null" ? bundle.gpt.nullClass : try parseClasses(classLabel, bundle.config)[0]
        let toks = try readTokens(tokens)
        guard !toks.isEmpty, toks.count <= c.imageTokens else { throw CLIError("expected 1...\(c.imageTokens) tokens, got \(toks.count)") }
        if let bad = toks.first(where: { $0 < 0 || $0 >= c.vocabSize }) { throw CLIError("token \(bad) is outside 0..<\(c.vocabSize)") }
        guard let mode = AttentionMode(rawValue: attention) else { throw ValidationError("--attention must be masked or reference") }
        let engine = GPTEngine(model: bundle.gpt, maxQueries: c.sequenceLength, maxSequences: 1, attentionMode: mode)
        let seq = try engine.openSequence()
        var queries = (0..<c.clsTokenNum).map {
            GPTQuery(sequence: seq, position: $0, input: .classLabel(cls), wantsLogits: $0 == c.clsTokenNum - 1)
        }
        for t in 0..<(toks.count - 1) { queries.append(GPTQuery(sequence: seq, position: c.clsTokenNum + t, input: .token(toks[t]))) }
        let logits = engine.forward(queries)
        var flat: [Float] = []
        flat.reserveCapacity(logits.count * c.vocabSize)
        for i in 0..<logits.count { flat += logits.row(i) }
        try writeFile(npyFloat32(flat, shape: [logits.count, c.vocabSize]), to: out)
        print("wrote \(out): [\(logits.count), \(c.vocabSize)] float32")
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
    @Option(help: "File of grid*grid whitespace-separated token ids.")
    var tokens: String
    @Option(help: "Upscale by this integer factor.")
    var scale: Int = 1
    @Option(help: "Output PNG.")
    var out: String

    func run() throws {
        let bundle = try modelOptions.load()
        let toks = try readTokens(tokens)
        let c = bundle.config.gpt
        guard toks.count == c.imageTokens else { throw CLIError("expected \(c.imageTokens) tokens (\(c.grid)x\(c.grid)), got \(toks.count)") }
        if let bad = toks.first(where: { $0 < 0 || $0 >= c.vocabSize }) { throw CLIError("token \(bad) is outside 0..<\(c.vocabSize)") }
        let img = try bundle.image(tokens: toks).scaled(by: max(scale, 1))
        try writeFile(try img.pngData(), to: out)
        print("wrote \(out) (\(img.width)x\(img.height))")
    }
}
