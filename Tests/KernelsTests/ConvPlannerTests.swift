import Foundation
import Testing
@testable import Kernels

/// The convolution planner: forced and heuristic modes, measuring within the error bound, the plan
/// cache shared by processes (merged writes, other machines' keys ignored, a broken file survived).
@Suite(.serialized) struct ConvPlannerTests {
    func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("conv-plans-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
    let small = ConvShape(inChannels: 32, outChannels: 32, kernel: 3, height: 16, width: 16)

    @Test func modesParseFromTheEnvironmentValue() {
        #expect(ConvPlanner.Mode("tuned") == .tuned)
        #expect(ConvPlanner.Mode("") == .tuned)
        #expect(ConvPlanner.Mode("heuristic") == .heuristic)
        #expect(ConvPlanner.Mode("winograd4x4") == .forced(.winograd4x4))
        #expect(ConvPlanner.Mode("gemm") == .forced(.gemm))
        #expect(ConvPlanner.Mode("fastest") == nil)
    }

    @Test func forcedAlgorithmsApplyWhereTheLayerAllowsThem() {
        let p = ConvPlanner(mode: .forced(.winograd2x2), cache: nil)
        #expect(p.algorithm(for: small) == .winograd2x2)
        let oneByOne = ConvShape(inChannels: 32, outChannels: 32, kernel: 1, height: 16, width: 16)
        #expect(p.algorithm(for: oneByOne) == .direct)
        #expect(ConvPlanner(mode: .forced(.gemm), cache: nil).algorithm(for: oneByOne) == .gemm)
        #expect(p.describePlans().count == 2)
    }

    @Test func heuristicIsTheFixedRule() {
        let p = ConvPlanner(mode: .heuristic, cache: nil)
        let wide = ConvShape(inChannels: 64, outChannels: 64, kernel: 3, height: 32, width: 32)
        if KernelRuntime.dispatchedInstructionSet == "avx512" { #expect(p.algorithm(for: wide) != .direct) }
        else { #expect(p.algorithm(for: wide) == .direct) }
        #expect(p.algorithm(for: ConvShape(inChannels: 64, outChannels: 8, kernel: 3, height: 32, width: 32)) == .direct)
    }

    /// Measures every candidate, keeps one within the error bound, writes the cache; a second planner
    /// (another process, say) reads the plan instead of measuring.
    @Test func measuresOnceAndCachesThePlan() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = ConvPlanner(mode: .tuned, cache: ConvPlanCache(directory: dir))
        let c = first.choice(for: small)
        guard KernelRuntime.instructionSet != "scalar" else { #expect(c.algorithm == .direct); return }
        #expect(c.source == "measured")
        #expect(Set(c.seconds.keys) == Set(ConvAlgorithm.allCases.map(\.rawValue)))
        #expect((c.errors[c.algorithm.rawValue] ?? 1) <= first.errorBound)
        #expect(c.errors.values.allSatisfy { $0 < 1e-4 }, "every algorithm should be accurate here: \(c.errors)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("conv-plans-v1.json").path))
        let second = ConvPlanner(mode: .tuned, cache: ConvPlanCache(directory: dir))
        let again = second.choice(for: small)
        #expect(again.source == "cached")
        #expect(again.algorithm == c.algorithm)
        // The same shape on another machine (another key) is not found.
        #expect(ConvPlanCache(directory: dir).load(key: "other cpu|avx2|2t|Haswell|\(small)") == nil)
    }

    /// Writers in several threads (standing in for workers sharing the directory) lose no entry, and a
    /// broken file costs a measurement, not an error.
    @Test func concurrentWritersMergeAndBrokenFilesAreSurvived() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            ConvPlanCache(directory: dir).store(key: "k\(i)", choice: .init(algorithm: .gemm, source: "measured"))
        }
        let reader = ConvPlanCache(directory: dir)
        for i in 0..<8 { #expect(reader.load(key: "k\(i)")?.algorithm == .gemm, "entry k\(i) lost") }
        try Data("{ not json".utf8).write(to: dir.appendingPathComponent("conv-plans-v1.json"))
        let fresh = ConvPlanCache(directory: dir)
        #expect(fresh.load(key: "k0") == nil)
        fresh.store(key: "k9", choice: .init(algorithm: .direct, source: "measured"))
        #expect(ConvPlanCache(directory: dir).load(key: "k9")?.algorithm == .direct)
    }
}
