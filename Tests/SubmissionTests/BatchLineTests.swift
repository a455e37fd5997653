import Foundation
import JobCore
import Submission
import Testing

/// JSONL batch lines (issue #23): `custom_id`, `model` and `queue` beside the prompt keys, parsed by the
/// one `PromptParser` that `zipar-submit --format jsonl` and `POST /api/batches` share. Every error names
/// its line and field.
@Suite struct BatchLineTests {
    static let other = ModelSpec(textModel: "text-tiny", grid: 8)

    func parser(customIDRequired: Bool = true, modelRequired: Bool = false) -> PromptParser {
        var p = PromptParser(model: fashion, defaults: SubmitDefaults())
        p.otherModels = [Self.other]
        p.customIDRequired = customIDRequired
        p.modelRequired = modelRequired
        return p
    }

    func errors(_ text: String, _ p: PromptParser) -> [PromptError] {
        do { _ = try p.parse(text, format: .jsonl); return [] } catch { return error.errors }
    }

    @Test func routingKeysSetCustomIDModelAndQueue() throws {
        let text = """
            {"custom_id": "r-1", "class": "dress", "seed": 3}
            {"custom_id": "r 2 ✓", "model": "text-tiny", "prompt": "a dark ankle boot", "queue": "night"}
            {"custom_id": "r-3", "model": "fashion-16", "class": "bag", "count": 2}
            """
        let jobs = try parser().parse(text, format: .jsonl)
        #expect(jobs.map(\.customID) == ["r-1", "r 2 ✓", "r-3", "r-3"])
        #expect(jobs.map(\.model) == ["fashion-16", "text-tiny", "fashion-16", "fashion-16"])
        #expect(jobs.map(\.queue) == ["default", "night", "default", "default"])
        #expect(jobs.map(\.line) == [1, 2, 3, 3])
        #expect(jobs[1].parameters.prompt == "a dark ankle boot")
    }

    @Test func everyErrorNamesItsLineAndField() {
        let text = """
            {"custom_id": "a", "class": "dress"}
            {"class": "dress"}
            {"custom_id": "a", "class": "coat"}
            {"custom_id": "b", "model": "nope", "class": "coat"}
            {"custom_id": "c", "queue": "", "class": "coat"}
            {"custom_id": "d", "model": "text-tiny", "class": "coat"}
            {"custom_id": "e", "class": "coat", "seed": -1}
            {"custom_id": "", "class": "coat"}
            not json
            """
        let errs = errors(text, parser())
        let byLine = Dictionary(errs.map { ($0.line, $0.field) }, uniquingKeysWith: { a, _ in a })
        #expect(byLine[2] == "custom_id")   // missing
        #expect(byLine[3] == "custom_id")   // used on line 1
        #expect(byLine[4] == "model")
        #expect(byLine[5] == "queue")
        #expect(byLine[6] == "class")       // a text model takes no class: the worker would refuse it
        #expect(byLine[7] == "seed")
        #expect(byLine[8] == "custom_id")
        #expect(byLine[9] == "json")
        #expect(byLine[1] == nil)
        #expect(errs.first { $0.line == 3 }?.message.contains("line 1") == true)
        #expect(errs.first { $0.line == 4 }?.message.contains("text-tiny") == true, "the known models are listed")
    }

    @Test func aBatchWithSeveralModelsNamesTheModelOfEachLine() {
        let errs = errors(#"{"custom_id": "a", "class": "dress"}"#, parser(modelRequired: true))
        #expect(errs.map(\.field) == ["model"] && errs.first?.line == 1)
    }

    @Test func ziparSubmitNeedsNoCustomID() throws {
        let jobs = try parser(customIDRequired: false).parse(#"{"class": "dress"}"#, format: .jsonl)
        #expect(jobs.count == 1 && jobs[0].customID == nil)
    }

    @Test func theTextFormatKnowsNoRoutingKeys() {
        var p = parser(customIDRequired: false)
        p.otherModels = []
        do { _ = try p.parse("dress custom_id=x", format: .text); Issue.record("accepted") } catch {
            #expect(error.errors.first?.field == "custom_id")
        }
    }
}
