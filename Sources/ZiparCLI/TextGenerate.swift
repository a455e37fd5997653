import CLISupport
import Decoding
import Foundation
import JobCore
import Model
import TextModel

/// `zipar generate --prompt/--prompts` on a text-to-image bundle (tools/train/text2img's format): the same scheduler and
/// policies as the class-conditional path, on the end-of-row layout. `--out x.png` with one prompt and `--count 1`
/// writes that file; otherwise `--out` is a folder of `<prompt#>-<seed>.png` (`<seed>.png` for a single `--prompt`)
/// + `.tokens` (VQ codes, raster order) and `manifest.tsv`, like the class-conditional path.
func generateFromPrompt(_ g: Generate) throws {
    let dir = g.modelOptions.model
    let prompts = try promptList(g)
    if g.classLabel != nil { throw CLIError("model \(dir) draws from a text prompt: use --prompt, not --class") }
    let bundle = try loadTextBundle(g.modelOptions)
    if (!g.tokensOnly || g.npy != nil || g.sheet != nil) && bundle.vq == nil {
        throw CLIError("bundle \(dir) has no vq.safetensors: use --tokens-only without --npy/--sheet")
    }

    // One prompt keeps the old names (<seed>.png); several are told apart by their line's index.
    let named = g.prompts != nil
    var requests: [GenerationRequest] = []
    var promptOf: [String: Int] = [:]
    for (i, text) in prompts.enumerated() {
        for k in 0..<g.count {
            var p = try g.sampling.parameters(policy: g.policy, seed: g.seed + UInt64(k))
            p.prompt = text
            p.negativePrompt = g.negativePrompt
            let id = named ? "p\(i)-\(g.seed + UInt64(k))" : "\(g.seed + UInt64(k))"
            promptOf[id] = i
            requests.append(GenerationRequest(id: id, parameters: p))
        }
    }
    let singleFile = g.out.lowercased().hasSuffix(".png") && requests.count == 1
    if !singleFile { try FileManager.default.createDirectory(atPath: g.out, withIntermediateDirectories: true) }
    let scheduler = BatchScheduler(textBundle: bundle, batch: g.batching.batch, maxQueries: g.batching.maxQueries,
                                   attentionMode: g.attention.attention)
    let spec = requests[0].parameters.policyText
    let l = bundle.layout
    var manifest = "file\tprompt_index\tprompt\tseed\tpolicy\tpasses\tqueries\tseconds\tdrafts\taccepted\n"
    var images: [String: PixelImage] = [:]
    let t0 = Date()
    let results: [GenerationResult]
    do {
        results = try scheduler.run(requests) { r in
            let base = singleFile ? String(g.out.dropLast(4)) : "\(g.out)/\(r.id)"
            try writeTokens(r.tokens, to: base + ".tokens")
            if !g.tokensOnly || g.npy != nil || g.sheet != nil {
                let img = try bundle.image(codes: r.tokens)
                if g.npy != nil || g.sheet != nil { images[r.id] = img }
                if !g.tokensOnly { try writeFile(try img.scaled(by: g.scale).pngData(), to: base + ".png") }
            }
            let st = r.stats
            let i = promptOf[r.id] ?? 0
            manifest += "\(r.id)\t\(i)\t\(prompts[i].replacingOccurrences(of: "\t", with: " "))\t\(r.request.seed)\t\(spec)\t"
                + "\(manifestStats(st))\n"
            print("\(base)\(g.tokensOnly ? ".tokens" : ".png")  seed \(r.request.seed)  policy \(spec)  passes \(st.passes)"
                  + "  queries \(st.queries)  " + String(format: "%.2f s", st.wallSeconds))
        }
    } catch let e as ParameterError {
        throw CLIError("\(e)")
    }
    if !singleFile { try writeFile(Array(manifest.utf8), to: "\(g.out)/manifest.tsv") }
    // Request order is prompt-major, seed-minor: the order the evaluation tools read the .npy in.
    if let npy = g.npy { try writeNpy(requests.compactMap { images[$0.id] }, to: npy) }
    if let sheet = g.sheet {
        let rows = prompts.enumerated().map { i, text in
            (label: text, images: requests.filter { promptOf[$0.id] == i }.compactMap { images[$0.id]?.scaled(by: g.scale) })
        }
        try writeFile(try classSheet(rows: rows).pngData(), to: sheet)
        print("wrote \(sheet)")
    }
    printRunSummary(results, spec: spec, ntpPasses: l.rows * l.columns, since: t0)
}

/// The text-to-image bundle of `--model`, load errors as CLI errors naming the folder.
private func loadTextBundle(_ options: ModelOptions) throws -> TextModelBundle {
    do { return try TextModelBundle(directory: options.model, storage: options.storage.choice.storage) }
    catch { throw CLIError("cannot load text bundle \(options.model): \(error)") }
}

/// The prompts of a run: `--prompt`, or the lines of `--prompts` (plain text; blank and `#` lines skipped).
private func promptList(_ g: Generate) throws -> [String] {
    switch (g.prompt, g.prompts) {
    case (nil, nil): throw CLIError("model \(g.modelOptions.model) is a text-to-image bundle: give --prompt or --prompts")
    case (.some, .some): throw CLIError("give --prompt or --prompts, not both")
    case (let p?, nil): return [p]
    case (nil, let file?):
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIError("cannot read prompts file \(file)") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        if lines.isEmpty { throw CLIError("prompts file \(file) has no prompts (blank lines and # comments only)") }
        return lines
    }
}

/// `zipar compare --prompt` on a text-to-image bundle: one prompt and seed under each policy, side by side.
func compareFromPrompt(_ c: Compare) throws {
    let dir = c.modelOptions.model
    if c.classLabel != nil { throw CLIError("model \(dir) draws from a text prompt: use --prompt, not --class") }
    guard let prompt = c.prompt else { throw CLIError("model \(dir) is a text-to-image bundle: give --prompt") }
    let bundle = try loadTextBundle(c.modelOptions)
    let requests = try c.policies.values.enumerated().map { k, spec in
        var p = try c.sampling.parameters(policy: spec, seed: c.seed)
        p.prompt = prompt
        return GenerationRequest(id: "\(k)", parameters: p)
    }
    let scheduler = BatchScheduler(textBundle: bundle, batch: requests.count, maxQueries: 2048,
                                   attentionMode: c.attention.attention)
    let results: [GenerationResult]
    do { results = try scheduler.run(requests) { _ in } } catch let e as ParameterError { throw CLIError("\(e)") }
    let l = bundle.layout
    guard l.rows == l.columns else { throw CLIError("compare draws square grids only (this bundle is \(l.rows)x\(l.columns))") }
    let side = (bundle.vq.map { l.columns * $0.config.upsampling } ?? l.columns) * c.scale
    try writeSheet(results: results, grid: l.columns, side: side,
                   image: bundle.vq == nil ? nil : { try bundle.image(codes: $0).scaled(by: c.scale) },
                   heatmaps: c.heatmaps, title: "\(prompt) seed \(c.seed)", out: c.out)
}
