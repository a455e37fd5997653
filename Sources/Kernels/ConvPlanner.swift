import CKernels
import Foundation

/// Chooses each convolution layer's algorithm by measuring the candidates on this machine, as cuDNN's
/// benchmark mode or oneDNN do, instead of a constant tuned on one CPU: the best algorithm differs by
/// layer shape, instruction set and core count (on one AVX-512 machine direct wins at 512 channels on a
/// 16x16 map and Winograd F(4x4) by 3x at 128 channels on 256x256; on AVX2 the order changes).
///
/// For a shape it has not seen, the planner times every candidate (`ConvAlgorithm.candidates`) on random
/// weights and input, on a crop of at most `maxMeasuredPositions` output positions so one shape costs a
/// fraction of a second, rejects any whose error against the direct kernel exceeds `errorBound`, and
/// keeps the cheapest: time on the whole layer plus `millisecondsPerMegabyte` per MB of packed weights
/// (the direct kernel unless another is `minGain` cheaper). Plans are cached in memory
/// and in `ConvPlanCache` (a file per user, keyed by CPU model, ISA, threads, OpenBLAS core and shape),
/// so a machine tunes once. A worker's start-up probe decodes one image, which tunes every layer of its
/// decoder before the first job.
///
/// `ZK_CONV_ALGO` overrides: `direct`, `winograd2x2`, `winograd4x4`, `gemm` force one algorithm (where the
/// layer allows it; direct elsewhere), `heuristic` takes the fixed rule of `zk_winograd_choice`, `tuned`
/// (the default) measures. `ZIPAR_CACHE_DIR` moves the cache; `ZK_CONV_CACHE=0` keeps plans in memory only.
public final class ConvPlanner: @unchecked Sendable {
    public enum Mode: Equatable, Sendable, CustomStringConvertible {
        case tuned, heuristic
        case forced(ConvAlgorithm)

        /// As `ZK_CONV_ALGO` spells it.
        public var description: String {
            switch self {
            case .tuned: return "tuned"
            case .heuristic: return "heuristic"
            case .forced(let a): return a.rawValue
            }
        }

        /// Parses `ZK_CONV_ALGO`; nil when the value names nothing.
        public init?(_ text: String) {
            switch text.lowercased() {
            case "", "tuned", "auto", "automatic": self = .tuned
            case "heuristic": self = .heuristic
            default:
                guard let a = ConvAlgorithm(rawValue: text) else { return nil }
                self = .forced(a)
            }
        }
    }

    /// What the planner decided for one shape, and why.
    public struct Choice: Codable, Sendable, Equatable {
        public var algorithm: ConvAlgorithm
        /// "measured", "cached", "forced" or "heuristic".
        public var source: String
        /// Seconds per call on the measured crop, by algorithm (rejected ones included).
        public var seconds: [String: Double] = [:]
        /// Worst error against the direct kernel relative to max |y|, by algorithm.
        public var errors: [String: Double] = [:]
    }

    /// A `ZK_CONV_ALGO` value that names nothing (the planner then measures, as by default); the
    /// worker and the benchmark say so at start.
    public static let ignoredEnvironmentValue: String? = {
        guard let v = ProcessInfo.processInfo.environment["ZK_CONV_ALGO"], Mode(v) == nil else { return nil }
        return v
    }()

    public static let shared: ConvPlanner = {
        let env = ProcessInfo.processInfo.environment
        let mode = env["ZK_CONV_ALGO"].flatMap(Mode.init) ?? .tuned
        return ConvPlanner(mode: mode, cache: ConvPlanCache.standard(environment: env))
    }()

    /// Changing the mode forgets the plans made under the old one (a benchmark compares modes in one run).
    public var mode: Mode {
        get { lock.withLock { currentMode } }
        set { lock.withLock { currentMode = newValue; plans = [:]; order = [] } }
    }
    private var currentMode: Mode
    public let cache: ConvPlanCache?
    /// Output positions a measurement computes at most (the crop keeps the full width).
    public let maxMeasuredPositions = 16_384
    /// An algorithm whose output differs from the direct kernel's by more than this (relative to max
    /// |y|) is never chosen; Winograd F(4x4) measures ~2e-5 on random layers.
    public let errorBound = 1e-4
    /// Another algorithm replaces the direct kernel only when at least this much faster (1.05 = 5%).
    public let minGain = 1.05
    /// The exchange rate between memory and time in a plan: a packing 1 MB larger must save this many
    /// milliseconds a call (0.5: the 512-channel VQ-16 layers on a 16x16 plane stay direct on AVX2,
    /// where F(2x2) saved ~3 ms a call for 7 MB a layer; the large-plane layers keep F(4x4), which
    /// saves 40-80 ms for the same). `ZK_CONV_MS_PER_MB` sets it (0: time alone).
    public let millisecondsPerMegabyte: Double = {
        ProcessInfo.processInfo.environment["ZK_CONV_MS_PER_MB"].flatMap(Double.init).map { max($0, 0) } ?? 0.5
    }()

    private let lock = NSLock()
    private var plans: [ConvShape: Choice] = [:]
    private var order: [ConvShape] = []

    public init(mode: Mode, cache: ConvPlanCache?) {
        currentMode = mode; self.cache = cache
    }

    /// The algorithm for a call of `shape`, measuring it the first time (serialised: concurrent callers
    /// of the same new shape wait for one measurement).
    public func algorithm(for shape: ConvShape) -> ConvAlgorithm { choice(for: shape).algorithm }

    public func choice(for shape: ConvShape) -> Choice {
        lock.withLock {
            if let c = plans[shape] { return c }
            let c = decide(shape)
            plans[shape] = c
            order.append(shape)
            return c
        }
    }

    /// Every plan made so far, in the order the shapes were first seen.
    public var planned: [(ConvShape, Choice)] { lock.withLock { order.map { ($0, plans[$0]!) } } }

    /// One line per planned shape, for a start-up log or a benchmark header.
    public func describePlans() -> [String] {
        planned.map { shape, c in
            var line = "\(shape): \(c.algorithm.rawValue) (\(c.source))"
            if !c.seconds.isEmpty {
                let best = c.seconds[c.algorithm.rawValue] ?? 0
                let others = c.seconds.keys.sorted().filter { $0 != c.algorithm.rawValue }.map { k in
                    String(format: "%@ %.2fx", k, (c.seconds[k] ?? 0) / max(best, 1e-12))
                }
                if !others.isEmpty { line += " vs " + others.joined(separator: ", ") }
            }
            return line
        }
    }

    /// The key part that says which machine and settings a measurement holds for.
    public static var machineKey: String {
        "\(CPUInfo.modelName)|\(KernelRuntime.instructionSet)|\(KernelRuntime.threads)t|\(KernelRuntime.blasCore)"
    }

    private func decide(_ shape: ConvShape) -> Choice {
        let candidates = ConvAlgorithm.candidates(kernel: shape.kernel)
        switch currentMode {
        case .forced(let a):
            return Choice(algorithm: candidates.contains(a) ? a : .direct, source: "forced")
        case .heuristic:
            return Choice(algorithm: Self.heuristic(shape), source: "heuristic")
        case .tuned:
            // The scalar path has one real candidate; measuring it would only cost time.
            if KernelRuntime.instructionSet == "scalar" { return Choice(algorithm: .direct, source: "heuristic") }
            let key = "\(Self.machineKey)|\(millisecondsPerMegabyte) ms/MB|\(shape)"
            guard let cache else { return measure(shape, candidates: candidates) }
            var measured = false
            var c = cache.loadOrMeasure(key: key) { measured = true; return measure(shape, candidates: candidates) }
            guard candidates.contains(c.algorithm) else { return measure(shape, candidates: candidates) }
            if !measured { c.source = "cached" }
            return c
        }
    }

    /// The fixed rule from before the planner: Winograd where `zk_winograd_choice` says it won on AVX-512.
    static func heuristic(_ shape: ConvShape) -> ConvAlgorithm {
        guard shape.kernel == 3 else { return .direct }
        switch zk_winograd_choice(Int32(shape.outChannels), Int32(shape.inChannels)) {
        case 2: return .winograd2x2
        case 4: return .winograd4x4
        default: return .direct
        }
    }

    /// Rows of the crop a measurement of `shape` computes: the full width, at most `maxMeasuredPositions`
    /// positions, whole Winograd tiles as in the real call.
    public func measuredRows(_ shape: ConvShape) -> Int {
        let rows = min(shape.height, max(1, maxMeasuredPositions / max(shape.width, 1)))
        return rows >= 4 && rows < shape.height ? rows - rows % 4 : rows
    }

    /// Times each candidate on a crop of the shape and keeps the fastest within the error bound.
    func measure(_ shape: ConvShape, candidates: [ConvAlgorithm]) -> Choice {
        let (h, w) = (measuredRows(shape), shape.width)
        var rng = SplitMix(seed: UInt64(shape.inChannels &* 1_000_003 &+ shape.outChannels &* 1009 &+ shape.kernel &* 17 &+ shape.width))
        let fanIn = Float(shape.inChannels * shape.kernel * shape.kernel)
        let weight = (0..<(shape.outChannels * shape.inChannels * shape.kernel * shape.kernel)).map { _ in rng.float() / fanIn.squareRoot() }
        let bias = (0..<shape.outChannels).map { _ in rng.float() * 0.1 }
        let x = FloatBuffer((0..<(shape.inChannels * h * w)).map { _ in rng.float() })
        let xp = ImageOps.pad(x, channels: shape.inChannels, height: h, width: w)
        var choice = Choice(algorithm: .direct, source: "measured")
        let convs = candidates.map { a in
            Conv2D(weight: weight, bias: bias, inChannels: shape.inChannels, outChannels: shape.outChannels,
                   kernel: shape.kernel, algorithm: .init(a))
        }
        let outputs = candidates.map { _ in FloatBuffer(uninitialized: shape.outChannels * h * w) }
        for (conv, y) in zip(convs, outputs) { conv.apply(padded: xp, height: h, width: w, into: y) }   // warm-up
        // Rounds interleave the candidates, and each keeps its fastest: a burst of load from another
        // process slows one round, not one candidate.
        var best = [Double](repeating: .infinity, count: candidates.count)
        var spent = 0.0, round = 0
        while round < 2 || (round < 5 && spent < 0.3) {
            for (i, conv) in convs.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                conv.apply(padded: xp, height: h, width: w, into: outputs[i])
                let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                best[i] = min(best[i], s); spent += s
            }
            round += 1
        }
        let count = shape.outChannels * h * w
        let reference = outputs[candidates.firstIndex(of: .direct) ?? 0].array(count: count)
        let scale = max(reference.reduce(Float(0)) { max($0, abs($1)) }, 1e-30)
        for (i, a) in candidates.enumerated() {
            choice.seconds[a.rawValue] = best[i]
            let out = outputs[i].array(count: count)
            var worst: Float = 0
            for k in out.indices { worst = max(worst, abs(out[k] - reference[k])) }
            choice.errors[a.rawValue] = Double(worst / scale)
        }
        // Cost of a candidate: its time on the whole layer plus what its packed weights cost in memory
        // (`millisecondsPerMegabyte`): a Winograd packing is 16/9 or 4 times the direct one, so a few
        // percent of speed is not worth 20-40 MB a layer (the VQ-16 decoder has ten 512-channel ones).
        let wholeLayer = Double(shape.height) / Double(h)
        func cost(_ a: ConvAlgorithm) -> Double {
            let seconds = (choice.seconds[a.rawValue] ?? .infinity) * wholeLayer
            let megabytes = Double(PackedConvWeights.bytes(a, out: shape.outChannels, in: shape.inChannels,
                                                           kernel: shape.kernel)) / 1e6
            return seconds * 1e3 + megabytes * millisecondsPerMegabyte
        }
        var cheapest = cost(.direct) / minGain
        for a in candidates where a != .direct {
            guard let e = choice.errors[a.rawValue], e <= errorBound, e.isFinite else { continue }
            let c = cost(a)
            if c < cheapest { cheapest = c; choice.algorithm = a }
        }
        return choice
    }
}

/// The CPU's model name (`/proc/cpuinfo`), for plan keys and benchmark headers.
public enum CPUInfo {
    public static let modelName: String = {
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return "unknown CPU"
    }()
}
