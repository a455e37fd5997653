import Decoding
import Foundation
import JobCore
import Model
import TextModel

/// Text-to-image bundles (Emu3 / Chameleon architecture, `TextModelBundle`): the same `ModelExecutor` as
/// LlamaGen, over a scheduler with the bundle's `DecoderTokenEngine`. That engine validates every job against
/// the text `ModelLimits`, so a job without a prompt fails for good naming the `prompt` field, as a
/// prompt sent to a LlamaGen model does.
extension ModelExecutor {
    /// - name: `TextModelIdentity.load(directory:)`'s name, the one `zipar-submit` stored in the jobs.
    public convenience init(textBundle bundle: TextModelBundle, name: String, batch: Int, maxQueries: Int) {
        let l = bundle.layout
        self.init(model: name, scheduler: BatchScheduler(textBundle: bundle, batch: batch, maxQueries: maxQueries),
                  capacity: batch, ntpPasses: l.rows * l.columns, image: { try bundle.image(codes: $0) })
    }

    /// As `probe(_: ModelBundle)`: the VQ decoder is there, the tokenizer and one pass of a prompt run,
    /// one grid of codes decodes.
    public static func probe(_ bundle: TextModelBundle) throws {
        guard bundle.vq != nil else { throw ModelError.missingFile(bundle.directory + "/vq.safetensors") }
        try SafeTensorsFile.requireFinite(inDirectory: bundle.directory)
        let scheduler = BatchScheduler(textBundle: bundle, batch: 1, maxQueries: 8)
        var p = JobParameters(classLabel: 0, seed: 0)
        p.prompt = "probe"
        try scheduler.add(GenerationRequest(id: "probe", parameters: p))
        _ = scheduler.step()
        _ = try bundle.image(codes: [Int](repeating: 0, count: bundle.layout.rows * bundle.layout.columns))
    }
}
