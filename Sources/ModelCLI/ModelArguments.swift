import ArgumentParser
import CLISupport
import Kernels
import Model

// The flags of the executables that run a model (zipar, zipar-worker, zipar-bench), apart from CLISupport
// so that the job-only executables (zipar-submit, zipar-admin) link no inference code. A bad value is a
// usage error naming the flag and the choices.

extension StorageChoice: ExpressibleByArgument {}
extension AttentionMode: ExpressibleByArgument {}
extension WeightStorage: ExpressibleByArgument {}

/// `--storage` (and its deprecated worker spelling `--weights`).
public struct StorageOptions: ParsableArguments {
    @Option(help: "Weight and KV-cache storage in memory: auto (f16 when the model file's matrices are F16, else f32), f32 (exact), f16 (half the bytes per pass; logits within ~1e-2), int8 (GPT matrices at 1.125 bytes a weight, one scale per 32; f16 KV cache; logits within ~0.1).")
    public var storage: StorageChoice = .auto

    @Option(name: .customLong("weights"), help: .hidden)
    public var deprecatedWeights: StorageChoice?

    public init() {}

    /// The choice, warning when the old flag name was used.
    public var choice: StorageChoice {
        if let old = deprecatedWeights {
            warnDeprecated("--weights", use: "--storage")
            return old
        }
        return storage
    }
}
