import Decoding
import JobCore
import TextModel

// `zipar-bench --text --text-models janus-pro-1b,janus-pro-7b`: DeepSeek's Janus-Pro at its published shapes,
// timed like the other text families (a few random f16 layers, extrapolated to the full depth; the report
// says so), on its own layout: a 24 x 24 raster after the prompt with no end-of-row tokens, LlamaGen's.

extension TextFamilyShape {
    /// Janus-Pro's generation head is proj_out [hidden -> 2048], GELU, vision_head [2048 -> 16384 codes]; the
    /// bench times one matrix [hidden -> 16384] in its place (1B: 34M weights for 38M, 7B: 67M for 42M), about
    /// 1% of a pass's weight bytes either way. Image codes enter through an 8-wide embedding and a small
    /// aligner MLP, which the bench leaves out (the token gather stands in).
    static let janusHeadNote = "the generation head (proj_out, GELU, vision_head over 16384 codes) is timed as one [hidden x 16384] "
        + "matrix; the 8-wide code embedding and its aligner are left out (about 1% of a pass's bytes)"

    /// Janus-Pro-1B (its public config.json, DeepSeek-LLM 1.3B): hidden 2048, 24 layers, 16 heads without GQA,
    /// intermediate 5632, rope theta 1e4, 16384 positions. 384 px through the 16x VQ: 24 x 24 codes.
    static let janusPro1B = TextFamilyShape(
        name: "Janus-Pro-1B",
        config: TextModelConfig(family: .janus, hiddenSize: 2048, intermediateSize: 5632, layers: 24, heads: 16,
                                kvHeads: 16, vocabSize: 16384, maxPositions: 16384, ropeTheta: 10_000),
        rows: 24, columns: 24, pixels: "384 px", promptTokens: 32, endOfRow: false, note: janusHeadNote)

    /// Janus-Pro-7B (its public config.json, DeepSeek-LLM 7B): hidden 4096, 30 layers, 32 heads without GQA,
    /// intermediate 11008, rope theta 1e4, 16384 positions; the same 24 x 24 codes at 384 px.
    static let janusPro7B = TextFamilyShape(
        name: "Janus-Pro-7B",
        config: TextModelConfig(family: .janus, hiddenSize: 4096, intermediateSize: 11008, layers: 30, heads: 32,
                                kvHeads: 32, vocabSize: 16384, maxPositions: 16384, ropeTheta: 10_000),
        rows: 24, columns: 24, pixels: "384 px", promptTokens: 32, endOfRow: false, note: janusHeadNote)
}

/// The passes of one H x W image on the plain raster layout (LlamaGen's, Janus's), from the pass that samples
/// x(0,0) to the one that samples x(H-1,W-1), as `RequestDecoder` schedules them:
/// - ntp: one token a pass, H x W passes;
/// - zipar:S: row i starts S passes after row i-1 (x(i,0) is predicted from a placeholder in slot (i-1,W-1),
///   whose real token is written by a K/V-only rewrite in the pass after it is sampled): (H-1)*S + W passes;
/// - official:S: row 0 entirely first, then rows S apart: 2W + (H-2)*S passes.
/// Nil for adaptive and the Jacobi policies (their passes depend on acceptances).
func rasterSchedule(rows h: Int, columns w: Int, policy: WindowPolicy) -> [TextPass]? {
    var lag: (Int) -> Int   // passes between the starts of row i-1 and row i
    switch policy {
    case .ntp: lag = { _ in w }
    case .zipar(let s) where s >= 1: lag = { _ in min(s, w) }
    case .official(let s) where s >= 1: lag = { i in i == 1 ? w : min(s, w) }
    default: return nil
    }
    var starts = [0]
    for i in 1..<max(h, 1) { starts.append(starts[i - 1] + lag(i)) }
    var passes = Array(repeating: TextPass(sampled: 0, kvOnly: 0), count: starts[h - 1] + w)
    for i in 0..<h {
        for j in 0..<w { passes[starts[i] + j].sampled += 1 }
        // The placeholder's rewrite, when row i+1 started before row i was complete.
        if i < h - 1 && starts[i + 1] < starts[i] + w { passes[starts[i] + w].kvOnly += 1 }
    }
    return passes
}
