import CLISupport
import Decoding
import Foundation
import ImageModels
import JobCore
import Model

/// What varies between the images of a `generate` or `compare` run, whatever the model family: a class
/// (class-conditional models, `--class`) or a prompt (text-to-image models, `--prompt` / `--prompts`). The
/// scheduler, the policies and the outputs are the same for both; only a group's label, its file names and
/// its manifest columns differ.
struct ImageGroup {
    /// Row label of a sheet, printed beside each image.
    let label: String
    /// Sets the conditioning on a request's parameters.
    let condition: (inout JobParameters) -> Void
    /// The file name (no extension) of the image with `seed`.
    let fileName: (UInt64) -> String
    /// The manifest's conditioning columns of this group (tab-separated, before the seed).
    let manifestColumns: String
}

/// The conditioning options both commands share, checked against the model's kind.
struct ConditioningChoice {
    var classLabel: String?
    var prompts: [String]?
    var negativePrompt: String?
    /// More than one prompt came from a file: name files by prompt index.
    var promptsFromFile: Bool

    /// The manifest header's conditioning columns for `kind`.
    static func manifestHeader(_ kind: ModelKind) -> String {
        kind == .llamaGen ? "file\tclass\tseed" : "file\tprompt_index\tprompt\tseed"
    }

    /// The groups of a run on `model`; `single` when the command takes one class or prompt.
    func groups(for model: ImageModel, single: Bool = false) throws -> [ImageGroup] {
        let dir = model.directory
        switch model.family {
        case .llamaGen(let bundle):
            if prompts != nil || negativePrompt != nil {
                throw CLIError("model \(dir) is class-conditional: use --class, not --prompt")
            }
            guard let classLabel else { throw CLIError("--class is required for a class-conditional model") }
            let classes = try parseClasses(classLabel, bundle.config)
            if single && classes.count != 1 { throw CLIError("--class takes one class here") }
            return classes.map { c in
                ImageGroup(label: bundle.config.className(c), condition: { $0.classLabel = c },
                           fileName: { "\(c)-\($0)" }, manifestColumns: "\(c)")
            }
        case .text, .janus:
            if classLabel != nil { throw CLIError("model \(dir) draws from a text prompt: use --prompt, not --class") }
            guard let prompts else { throw CLIError("model \(dir) is a text-to-image bundle: give --prompt\(single ? "" : " or --prompts")") }
            let negative = negativePrompt
            return prompts.enumerated().map { i, text in
                ImageGroup(label: text, condition: { $0.prompt = text; $0.negativePrompt = negative },
                           // One prompt keeps the short names (<seed>.png); a prompts file's are told apart by index.
                           fileName: { promptsFromFile ? "p\(i)-\($0)" : "\($0)" },
                           manifestColumns: "\(i)\t\(text.replacingOccurrences(of: "\t", with: " "))")
            }
        }
    }
}

/// The prompts of a run: `--prompt`, or the lines of `--prompts` (plain text; blank and `#` lines skipped);
/// nil when neither is given.
func promptList(prompt: String?, file: String?) throws -> [String]? {
    switch (prompt, file) {
    case (nil, nil): return nil
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

/// Decodes `requests` on `model` with continuous batching; parameters the model cannot serve are CLI errors.
func decodeAll(_ model: ImageModel, _ requests: [GenerationRequest], batch: Int, maxQueries: Int, mode: AttentionMode,
               onResult: ((GenerationResult) throws -> Void)? = nil) throws -> [GenerationResult] {
    for r in requests {
        do { try r.parameters.validate(for: model.limits) } catch { throw CLIError("\(error)") }
    }
    do {
        return try model.scheduler(batch: batch, maxQueries: maxQueries, attentionMode: mode).run(requests, onResult: onResult)
    } catch let e as ParameterError {
        throw CLIError("\(e)")
    }
}
