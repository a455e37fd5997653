import Foundation
import Kernels
import Model
import Testing
@testable import TextModel

/// Janus / Janus-Pro's generation path on the shared engine against transformers' JanusForConditionalGeneration
/// (Tests/Fixtures/janus-tiny, `python3 -m tools.fixtures.make_janus_fixtures`): the prompt through the Llama
/// decoder, image codes entering through the generation embedding and aligner, their logits from the
/// generation head; the language head on the prompt; the VQ decoder's pixels.
@Suite struct JanusParityTests {
    static let folder = TextModelFixtures.path("janus-tiny")

    static func rows(_ flat: [Float], width: Int) -> [[Float]] {
        stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<$0 + width]) }
    }

    @Test func generationLogitsMatchTransformers() throws {
        let model = try TextTransformer(directory: Self.folder)
        #expect(model.config.family == .janus)
        let expected = try SafeTensorsFile(path: Self.folder + "/expected.safetensors")
        let prompt = try expected.integers("prompt"), codes = try expected.integers("codes")
        guard let path = model.weights.inputs.imageCodes else { Issue.record("no generation path loaded"); return }
        #expect(path.firstID == 320 && path.codes == 64)
        // The prompt, then every code but the last as a virtual id; row t of the reference predicts codes[t].
        let inputs = prompt.map { DecoderQuery.Input.token($0) } + codes.dropLast().map { .token(path.firstID + $0) }
        for chunk in [32, 1, 5] {
            let engine = model.engine(maxQueries: 32, maxSequences: 1, logitsVocabulary: path.ids)
            let got = try engine.prefillLogits(inputs: inputs, wantsLogits: { $0 >= prompt.count - 1 }, chunk: chunk)
            let err = TextModelFixtures.maxAbsDiff(got, Self.rows(try expected.floats("logits"), width: 64))
            print("janus-tiny generation head, \(chunk) queries a pass: max |logit error| = \(err)")
            #expect(err <= 1e-4)
        }
        let text = try model.engine(maxQueries: 32, maxSequences: 1).prefillLogits(tokens: prompt)
        let lmErr = TextModelFixtures.maxAbsDiff(text, Self.rows(try expected.floats("lm_logits"), width: 320))
        print("janus-tiny language head: max |logit error| = \(lmErr)")
        #expect(lmErr <= 1e-4)
    }

    @Test func vqDecoderMatchesTransformers() throws {
        let generation = try JanusGeneration(directory: Self.folder)
        #expect(generation.grid == 4 && generation.vq.upsampling == 2)
        let decoder = try generation.vqDecoder(try HFCheckpoint(directory: Self.folder))
        let expected = try SafeTensorsFile(path: Self.folder + "/expected.safetensors")
        let pixels = try decoder.decode(tokens: try expected.integers("grid"), grid: generation.grid)
        let reference = try expected.floats("pixels")
        let err = zip(pixels, reference).map { abs($0 - $1) }.max() ?? .infinity
        print("janus-tiny VQ: max |pixel error| = \(err)")
        #expect(pixels.count == reference.count && err <= 1e-4)
    }

    @Test func janusNamesMapOntoLlamaGens() {
        #expect(JanusGeneration.janusName(llamaGen: "decoder.mid.1.q.weight") == "model.vqmodel.decoder.mid.attn_1.q.weight")
        #expect(JanusGeneration.janusName(llamaGen: "decoder.conv_blocks.0.res.2.nin_shortcut.bias")
                == "model.vqmodel.decoder.up.0.block.2.nin_shortcut.bias")
        #expect(JanusGeneration.janusName(llamaGen: "quantize.embedding.weight") == "model.vqmodel.quantize.embedding.weight")
    }
}
