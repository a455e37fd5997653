import CLISupport
import Decoding
import Foundation
import Model
import TextModel

/// `zipar generate --prompt` on a text-to-image bundle (tools/text2img's format): the same scheduler and
/// policies as the class-conditional path, on the end-of-row layout. `--out x.png` with `--count 1` writes
/// that file; otherwise `--out` is a folder of `<seed>.png` + `<seed>.tokens` (VQ codes, raster order).
func generateFromPrompt(_ g: Generate) throws {
    let dir = g.modelOptions.model
    guard let prompt = g.prompt else { throw CLIError("model \(dir) is a text-to-image bundle: give --prompt") }
    if g.classLabel != nil { throw CLIError("model \(dir) draws from a text prompt: use --prompt, not --class") }
    let bundle: TextModelBundle
    do { bundle = try TextModelBundle(directory: dir, storage: g.modelOptions.storage.choice.storage) }
    catch { throw CLIError("cannot load text bundle \(dir): \(error)") }
    if !g.tokensOnly && bundle.vq == nil { throw CLIError("bundle \(dir) has no vq.safetensors: use --tokens-only") }

    let requests = (0..<g.count).map { k in
        var p = g.sampling.parameters(policy: g.policy, seed: g.seed + UInt64(k))
        p.prompt = prompt
        p.negativePrompt = g.negativePrompt
        return GenerationRequest(id: "\(g.seed + UInt64(k))", parameters: p)
    }
    let singleFile = g.out.lowercased().hasSuffix(".png") && g.count == 1
    if !singleFile { try FileManager.default.createDirectory(atPath: g.out, withIntermediateDirectories: true) }
    let scheduler = BatchScheduler(textBundle: bundle, batch: g.batching.batch, maxQueries: g.batching.maxQueries,
                                   attentionMode: g.attention.attention)
    let spec = requests[0].parameters.policyText
    let l = bundle.layout
    let t0 = Date()
    let results: [GenerationResult]
    do {
        results = try scheduler.run(requests) { r in
            let base = singleFile ? String(g.out.dropLast(4)) : "\(g.out)/\(r.id)"
            try writeFile(Array((r.tokens.map(String.init).joined(separator: " ") + "\n").utf8), to: base + ".tokens")
            if !g.tokensOnly { try writeFile(try bundle.image(codes: r.tokens).scaled(by: g.scale).pngData(), to: base + ".png") }
            print("\(base)\(g.tokensOnly ? ".tokens" : ".png")  seed \(r.request.seed)  policy \(spec)  passes \(r.stats.passes)"
                  + "  queries \(r.stats.queries)  " + String(format: "%.2f s", r.stats.wallSeconds))
        }
    } catch let e as ParameterError {
        throw CLIError("\(e)")
    }
    let mean = Double(results.map(\.stats.passes).reduce(0, +)) / Double(results.count)
    print("\(results.count) images, policy \(spec), mean passes \(String(format: "%.1f", mean)) (ntp \(l.rows * l.columns)), "
          + "wall \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
}
