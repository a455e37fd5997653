import ArgumentParser
import Foundation
import JobCore

// The flags several executables share, declared once so names, defaults and help agree everywhere.

/// The sampling knobs of `JobParameters`, as flags: `zipar generate/compare/heatmap` take them for their
/// images, `zipar-submit` as the defaults a prompt line overrides. One flag per knob.
public struct SamplingOptions: ParsableArguments {
    @Option(help: "Classifier-free guidance scale, 0...100 (1 = off; needs the model's null-class row).")
    public var cfg: Float = 1.0
    @Option(help: "Guide only the first N image tokens in raster order (default: all).")
    public var cfgInterval: Int?
    @Option(help: "Sampling temperature, 0...100 (0 = greedy).")
    public var temperature: Float = 1.0
    @Option(help: "Keep only the K most likely tokens (0 = off).")
    public var topK: Int = 0
    @Option(help: "Nucleus sampling: keep the smallest set of tokens with this much mass, (0, 1] (1 = off).")
    public var topP: Float = 1.0
    @Option(help: "Min-p sampling: drop tokens less likely than this times the most likely one, [0, 1) (0 = off).")
    public var minP: Float = 0
    @Flag(help: "Run zipar:S policies on the official ZipAR schedule: the whole first row by NTP before rows overlap (2W + (H-2)S passes). Same as policy official:S.")
    public var officialSchedule = false
    @Option(help: "Text-to-image bundles: the image grid in tokens, N (N x N) or HxW (H rows of W tokens, e.g. 12x20); default: the model's own grid. Janus-Pro draws its native grid only.")
    public var size: ImageSize?

    public init() {}

    public var sampling: SamplingParams {
        SamplingParams(temperature: temperature, topK: topK, topP: topP, minP: minP, cfgScale: cfg, cfgInterval: cfgInterval)
    }

    /// `policy` on the schedule the flags ask for: with `--official-schedule`, zipar:S becomes official:S.
    public func scheduled(_ policy: WindowPolicy) throws -> WindowPolicy {
        guard officialSchedule else { return policy }
        switch policy {
        case .zipar(let s), .official(let s): return .official(window: s)
        default: throw ValidationError("--official-schedule applies to zipar:S policies only, not \(policy)")
        }
    }

    /// The parameters of one image under `policy` (with `--official-schedule` applied).
    public func parameters(policy: WindowPolicy, classLabel: Int = 0, seed: UInt64) throws -> JobParameters {
        var p = JobParameters(classLabel: classLabel, policy: try scheduled(policy), sampling: sampling, seed: seed)
        p.size = size
        return p
    }
}

/// Seeds: one default everywhere, so `zipar generate --class dress --count 8` and a prompt line
/// `dress count=8` draw the same eight images.
public enum Defaults {
    public static let seed: UInt64 = 1
    /// Queries per pass: room for 8 jobs x 16 rows with CFG twins on a 16x16 grid, so a full batch never
    /// waits a pass for lack of room.
    public static let maxQueries = 256
    public static let batch = 8
    /// Upper bounds of `--batch` and `--max-queries`: far beyond what a pass can use (a 24x24 grid with CFG
    /// twins is 1152 queries an image), and small enough that buffers sized by them cannot exhaust memory.
    public static let maxBatch = 1024
    public static let maxQueriesLimit = 8192
}

/// Continuous batching: `--batch` and `--max-queries`.
public struct BatchOptions: ParsableArguments {
    @Option(help: "Images decoded at the same time (continuous batching; per model in the worker; 1...1024).")
    public var batch: Int = Defaults.batch
    @Option(help: "Cap on queries per forward pass across the batch (2...8192).")
    public var maxQueries: Int = Defaults.maxQueries

    public init() {}

    public func validate() throws {
        if !(1...Defaults.maxBatch).contains(batch) { throw ValidationError("--batch must be from 1 to \(Defaults.maxBatch)") }
        if !(2...Defaults.maxQueriesLimit).contains(maxQueries) {
            throw ValidationError("--max-queries must be from 2 to \(Defaults.maxQueriesLimit)")
        }
    }
}
