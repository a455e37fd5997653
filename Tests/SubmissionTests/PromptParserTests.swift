import Foundation
import JobStore
import ModelFolder
import Submission
import Testing

let fashion = ModelSpec(ModelConfig(
    name: "fashion-16",
    gpt: GPTConfig(dim: 64, nLayer: 1, nHead: 1, vocabSize: 512, numClasses: 10, grid: 16),
    vq: nil,
    classNames: ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]))

@Suite struct PromptParserTests {
    func parser(_ d: SubmitDefaults = SubmitDefaults()) -> PromptParser {
        PromptParser(model: fashion, defaults: d)
    }

    func errors(_ text: String, format: PromptFormat = .text, _ d: SubmitDefaults = SubmitDefaults()) -> [PromptError] {
        do { _ = try parser(d).parse(text, format: format); return [] } catch { return error.errors }
    }

    @Test func validFileWithCommentsAndOverrides() throws {
        let text = """
            # a comment
            dress

            ankle-boot policy=zipar:4 cfg=2.5 seed=100 count=2   # trailing comment
            3 policy=adaptive:8 temperature=0.9 top_k=50 top_p=0.95 priority=7
            """
        var d = SubmitDefaults()
        d.parameters.seed = 10; d.queue = "q1"
        let jobs = try parser(d).parse(text)
        let p = jobs.map(\.parameters)
        #expect(jobs.count == 4)
        #expect(p[0].classLabel == 3 && p[0].policyText == "ntp" && p[0].seed == 10 && jobs[0].line == 2 && jobs[0].queue == "q1")
        #expect(p[1].classLabel == 9 && p[1].policyText == "zipar:4" && p[1].sampling.cfgScale == 2.5 && p[1].seed == 100)
        #expect(p[2].seed == 101 && jobs[2].line == 4)
        #expect(p[3].classLabel == 3 && p[3].policyText == "adaptive:8" && p[3].sampling.topK == 50 && jobs[3].priority == 7
                && p[3].sampling.temperature == 0.9 && p[3].sampling.topP == 0.95 && p[3].seed == 13)
        #expect(jobs.allSatisfy { $0.model == "fashion-16" })
    }

    @Test(arguments: [
        ("unicorn", "class"), ("10", "class"), ("-1", "class"),
        ("dress policy=zipar", "policy"), ("dress policy=foo:3", "policy"), ("dress policy=zipar:0", "policy"),
        ("dress policy=zipar:17", "policy"), ("dress policy=adaptive:99", "policy"),
        ("dress seed=abc", "seed"), ("dress seed=-5", "seed"), ("dress cfg=x", "cfg"), ("dress cfg=nan", "cfg"),
        ("dress cfg=-1", "cfg"), ("dress temperature=-1", "temperature"), ("dress top_k=-1", "top_k"),
        ("dress top_k=1.5", "top_k"), ("dress top_p=1.5", "top_p"), ("dress top_p=0", "top_p"),
        ("dress count=0", "count"), ("dress count=many", "count"), ("dress priority=high", "priority"),
        ("dress max_attempts=0", "max_attempts"), ("dress colour=red", "colour"), ("dress seed", "seed"),
        ("dress seed=1 seed=2", "seed"), ("policy=ntp", "class"),
    ])
    func rejectsMalformedLine(line: String, field: String) {
        let errs = errors("dress\n\(line)\ncoat")
        #expect(errs.count >= 1, "accepted: \(line)")
        #expect(errs.first?.line == 2, "\(errs)")
        #expect(errs.first?.field == field, "\(errs)")
    }

    @Test func collectsEveryError() {
        let errs = errors("unicorn\ndress cfg=x\n# fine\ncoat policy=zipar:99\n")
        #expect(errs.map(\.line) == [1, 2, 4])
        #expect(errs.map(\.field) == ["class", "cfg", "policy"])
        #expect(errs[2].description.contains("larger than the grid"))
    }

    @Test func emptyInputIsAnError() {
        #expect(errors("# nothing\n\n").first?.field == "input")
    }

    @Test func badDefaultsAreReported() {
        var d = SubmitDefaults()
        d.parameters.policy = .zipar(window: 40)
        #expect(errors("dress", d).first?.field == "--policy")
    }

    @Test func jsonLines() throws {
        let jobs = try parser().parse("""
            {"class": "dress", "policy": "zipar:4", "cfg": 2}
            {"class": 7, "seed": 5, "count": 2}
            """, format: .jsonl)
        #expect(jobs.count == 3)
        let p = jobs.map(\.parameters)
        #expect(p[0].classLabel == 3 && p[0].policyText == "zipar:4" && p[0].sampling.cfgScale == 2)
        #expect(p[1].classLabel == 7 && p[1].seed == 5 && p[2].seed == 6)
        let errs = errors("{\"class\": \"dress\"}\nnot json\n{\"policy\": \"ntp\"}\n{\"class\": \"bag\", \"bogus\": 1}", format: .jsonl)
        #expect(errs.map(\.line) == [2, 3, 4])
        #expect(errs.map(\.field) == ["json", "class", "bogus"])
        }

    /// One set of rules for every entry point: what `zipar generate` takes, a prompt line takes.
    @Test func acceptsEveryPolicyAndKnobOfTheCLI() throws {
        let jobs = try parser().parse("dress policy=official:8 cfg=2 cfg_interval=64 temperature=0 min_p=0.05\ncoat policy=zipar:4+official")
        #expect(jobs[0].parameters.sampling.minP == 0.05)
        #expect(jobs[0].parameters.policyText == "official:8" && jobs[0].parameters.policy == .official(window: 8))
        #expect(jobs[0].parameters.sampling.cfgInterval == 64 && jobs[0].parameters.sampling.temperature == 0)
        #expect(jobs[1].parameters.policyText == "official:4")
    }

    @Test func crlfReadsLikeLF() throws {
        let jobs = try parser().parse("t-shirt seed=1 # c\r\ntrouser seed=2\r\npullover seed=3\r\ndress seed=4\r\n")
        #expect(jobs.map(\.parameters.classLabel) == [0, 1, 2, 3])
        #expect(jobs.map(\.line) == [1, 2, 3, 4])
    }

    @Test(arguments: [
        ("dress top_p=1e-300", "top_p"), ("dress min_p=1", "min_p"), ("dress min_p=-0.1", "min_p"), ("dress top_k=99999999999", "top_k"),
        ("dress seed=9223372036854775807 count=3", "seed"), ("dress policy=adaptive:4+official", "policy"),
    ])
    func rejectsWhatTheWorkerWouldReject(line: String, field: String) {
        let errs = errors(line)
        #expect(errs.first?.field == field, "\(errs)")
    }

    @Test func labelsIdsAndDelayedJobs() throws {
        let now = Date()
        let jobs = try parser().parse("dress label=hero run_at=+30m\ncoat id=pair count=2\nbag run_at=2030-01-02T03:04:05Z")
        #expect(jobs.map(\.label) == ["hero", "pair-1", "pair-2", nil])
        #expect(jobs[0].prompt == "dress label=hero run_at=+30m" && jobs[0].className == "dress")
        let delay = try #require(jobs[0].runAfter).timeIntervalSince(now)
        #expect(delay > 1790 && delay < 1810)
        #expect(jobs[1].runAfter == nil)
        #expect(jobs[3].runAfter == ISO8601DateFormatter().date(from: "2030-01-02T03:04:05Z"))
        let errs = errors("dress label=a\ncoat label=a\nbag label=../x\nshirt run_at=soon\nsandal label=a id=b")
        #expect(errs.map(\.line) == [2, 3, 4, 5])
        #expect(errs.map(\.field) == ["label", "label", "run_at", "label"])
    }
}
