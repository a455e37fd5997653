import Foundation
import Testing
import JobCore

/// The rules of `prompt`, `negative_prompt` and `size` in `JobParameters.validate`: the one set the prompt
/// parser, the job row's read-back and the worker share.
@Suite struct TextParameterRulesTests {
    let classModel = ModelLimits(grid: 16, numClasses: 10, supportsGuidance: true)
    var textModel: ModelLimits {
        var l = ModelLimits(grid: 16, numClasses: 1, supportsGuidance: true)
        l.conditioning = .text
        return l
    }

    func field(_ p: JobParameters, for model: ModelLimits? = nil) -> String? {
        do {
            if let model { try p.validate(for: model) } else { try p.validate() }
            return nil
        } catch { return error.field }
    }

    func text(_ prompt: String?, negative: String? = nil, size: ImageSize? = nil) -> JobParameters {
        var p = JobParameters()
        p.prompt = prompt; p.negativePrompt = negative; p.size = size
        return p
    }

    @Test(arguments: ["", "   ", "\t", "a\nb", "a\rb", "nul\u{0}here", "bell\u{7}", "del\u{7F}", "c1\u{85}",
                      String(repeating: "x", count: JobParameters.maxPromptLength + 1)])
    func badPrompts(prompt: String) {
        #expect(field(text(prompt)) == "prompt")
        #expect(field(text("fine", negative: prompt)) == "negative_prompt")
    }

    @Test(arguments: ["a dark ankle boot", "tab\tinside", "quotes \" and \\ and # = are text", "ünïcødé 🥾",
                      String(repeating: "x", count: JobParameters.maxPromptLength),
                      String(repeating: "🥾", count: JobParameters.maxPromptLength)])
    func goodPrompts(prompt: String) {
        #expect(field(text(prompt, negative: prompt), for: textModel) == nil)
    }

    @Test func errorsSayWhatIsWrong() throws {
        do { try text("two\nlines").validate(); Issue.record("accepted") } catch {
            #expect(error.description == "prompt: control character U+000A at character 4: only tab is allowed (a prompt is one line of text)")
        }
        do { try text(String(repeating: "x", count: 2001)).validate(); Issue.record("accepted") } catch {
            #expect(error.message.contains("2001") && error.message.contains("2000"))
        }
    }

    @Test func negativePromptOnlyWithAPrompt() {
        #expect(field(text(nil, negative: "blurry")) == "negative_prompt")
        #expect(field(text("boot", negative: "blurry")) == nil)
    }

    @Test func exactlyOneOfClassAndPromptDefinesTheImage() {
        #expect(field(text("a boot"), for: classModel) == "prompt")
        #expect(field(JobParameters(classLabel: 9), for: classModel) == nil)
        #expect(field(JobParameters(), for: textModel) == "prompt")
        var classed = text("a boot")
        classed.classLabel = 3
        #expect(field(classed, for: textModel) == "class")
        #expect(field(text("a boot"), for: textModel) == nil)
    }

    @Test func sizeIsOneTheModelDraws() {
        #expect(field(text("boot", size: 0)) == "size")
        #expect(field(text("boot", size: ImageSize(side: JobParameters.maxSize + 1))) == "size")
        #expect(field(text("boot", size: ImageSize(rows: 12, columns: JobParameters.maxSize + 1))) == "size")
        #expect(field(text("boot", size: ImageSize(rows: 0, columns: 20))) == "size")
        #expect(field(text("boot", size: 16), for: textModel) == nil)
        #expect(field(text("boot", size: 8), for: textModel) == "size")
        var several = textModel
        several.sizes = [8, 32]
        #expect(field(text("boot", size: 8), for: several) == nil)
        #expect(field(text("boot", size: 32), for: several) == nil)
        var narrow = text("boot", size: 8)
        narrow.policy = .zipar(window: 12)
        #expect(field(narrow, for: several) == "policy")
        var plain = JobParameters(classLabel: 1)
        plain.size = 16
        #expect(field(plain, for: classModel) == nil)
        plain.size = 32
        #expect(field(plain, for: classModel) == "size")
    }

    /// `size=HxW`: a text bundle with an end-of-row layout and a context draws any grid whose rows x (columns
    /// + 1) positions leave `promptReserve` of it; its windows are bounded by the width. A model without a
    /// context limit (Janus: its one grid, a class model) refuses any other grid, naming `size`.
    @Test func nonSquareSizes() {
        let bundle = ModelLimits.textModel(grid: 16, maxPositions: 512)
        #expect(bundle.maxImagePositions == 496)
        #expect(field(text("boot", size: ImageSize(rows: 12, columns: 20)), for: bundle) == nil)
        #expect(field(text("boot", size: ImageSize(rows: 20, columns: 12)), for: bundle) == nil)
        #expect(field(text("boot", size: ImageSize(rows: 22, columns: 21)), for: bundle) == nil)    // 484 positions
        #expect(field(text("boot", size: ImageSize(rows: 24, columns: 24)), for: bundle) == "size")   // 600
        var wide = text("boot", size: ImageSize(rows: 12, columns: 20))
        wide.policy = .zipar(window: 20)
        #expect(field(wide, for: bundle) == nil)
        wide.policy = .official(window: 21)
        #expect(field(wide, for: bundle) == nil)
        wide.policy = .zipar(window: 21)
        #expect(field(wide, for: bundle) == "policy")
        var tall = text("boot", size: ImageSize(rows: 20, columns: 12))
        tall.policy = .zipar(window: 16)
        #expect(field(tall, for: bundle) == "policy", "the window is bounded by the width 12, not the height")
        let janus = ModelLimits.textModel(grid: 24, endOfRowLayout: false)
        #expect(field(text("boot", size: 24), for: janus) == nil)
        #expect(field(text("boot", size: ImageSize(rows: 24, columns: 12)), for: janus) == "size")
        #expect(field(text("boot", size: 16), for: janus) == "size")
    }

    @Test func sizeTextForms() throws {
        #expect(try ImageSize(parsing: "16") == ImageSize(side: 16))
        #expect(try ImageSize(parsing: "12x20") == ImageSize(rows: 12, columns: 20))
        #expect(try ImageSize(parsing: "12X20") == ImageSize(rows: 12, columns: 20))
        #expect(try ImageSize(parsing: "12*20") == ImageSize(rows: 12, columns: 20))
        #expect(ImageSize(rows: 12, columns: 20).description == "12x20" && ImageSize(side: 16).description == "16")
        for bad in ["", "x", "12x", "x20", "12x20x3", "twelve", "1.5"] {
            #expect(throws: ParameterError.self, "\(bad)") { try ImageSize(parsing: bad) }
        }
        var p = text("boot")
        try JobParameters.field(key: "size")!.write(&p, .text("12x20"))
        #expect(p.size == ImageSize(rows: 12, columns: 20))
        try JobParameters.field(key: "size")!.write(&p, .text("none"))
        #expect(p.size == nil)
        try JobParameters.field(key: "size")!.write(&p, .int(16))   // JSON written when size was an integer
        #expect(p.size == 16)
        // A square size stays a JSON integer; HxW is text. Both read back.
        p.size = 16
        #expect(String(decoding: try JSONEncoder().encode(p), as: UTF8.self).contains("\"size\":16"))
        #expect(try JSONDecoder().decode(JobParameters.self, from: JSONEncoder().encode(p)) == p)
        p.size = ImageSize(rows: 12, columns: 20)
        #expect(String(decoding: try JSONEncoder().encode(p), as: UTF8.self).contains("\"size\":\"12x20\""))
        #expect(try JSONDecoder().decode(JobParameters.self, from: JSONEncoder().encode(p)) == p)
    }

    /// Prompt files, JSON and job rows carry the fields through the key table.
    @Test func keyTableAndJSONRoundTrip() throws {
        var p = text("say \"hi\"\tto a boot", negative: "blurry", size: 16)
        p.seed = 7
        let keys = Dictionary(uniqueKeysWithValues: p.values.map { ($0.key, $0.value) })
        #expect(keys["prompt"] == .text("say \"hi\"\tto a boot") && keys["negative_prompt"] == .text("blurry") && keys["size"] == .text("16"))
        #expect(try JobParameters(values: keys) == p)
        #expect(try JSONDecoder().decode(JobParameters.self, from: JSONEncoder().encode(p)) == p)
        let plain = JobParameters(classLabel: 2)
        let plainKeys = Dictionary(uniqueKeysWithValues: plain.values.map { ($0.key, $0.value) })
        #expect(plainKeys["prompt"] == .null && plainKeys["negative_prompt"] == .null && plainKeys["size"] == .null)
        #expect(try JSONDecoder().decode(JobParameters.self, from: JSONEncoder().encode(plain)) == plain)
        #expect(JobParameters.field(key: "prompt")?.column == "text_prompt")
        #expect(try JobParameters.field(key: "prompt")?.parse("none") == .text("none"))
    }
}
