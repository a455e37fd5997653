import Foundation
import JobCore
import JobStore
import ModelFolder
import Submission
import Testing

/// A text-to-image model as submit sees it (what `ModelSpec.load` reads from a layout.json).
let fashionText = ModelSpec(textModel: "fashion-text-16", grid: 16)

/// Text prompt lines: quoting, escapes, errors with line and column, negative prompts, JSONL, and the
/// class / text split between models.
@Suite struct TextPromptTests {
    func parse(_ text: String, model: ModelSpec = fashionText, format: PromptFormat = .text) throws(PromptErrors) -> [JobSpec] {
        try PromptParser(model: model, defaults: SubmitDefaults()).parse(text, format: format)
    }

    func errors(_ text: String, model: ModelSpec = fashionText, format: PromptFormat = .text) -> [PromptError] {
        do { _ = try parse(text, model: model, format: format); return [] } catch { return error.errors }
    }

    @Test func quotedFirstWordIsThePrompt() throws {
        let jobs = try parse("""
            "a dark ankle boot, large" policy=zipar:4 seed=3 negative_prompt="blurry"
            "a light shirt with a pattern"   count=2 label=shirt   # a comment
            prompt="a small bag" cfg=3
            """)
        #expect(jobs.count == 4)
        let p = jobs.map(\.parameters)
        #expect(p[0].prompt == "a dark ankle boot, large" && p[0].negativePrompt == "blurry")
        #expect(p[0].policyText == "zipar:4" && p[0].seed == 3 && p[0].classLabel == 0)
        #expect(p[1].prompt == "a light shirt with a pattern" && p[1].negativePrompt == nil && p[2].prompt == p[1].prompt)
        #expect(jobs[1].label == "shirt-1" && jobs[2].label == "shirt-2")
        #expect(p[3].prompt == "a small bag" && p[3].sampling.cfgScale == 3)
        #expect(jobs.allSatisfy { $0.model == "fashion-text-16" && $0.className == nil })
        // The job keeps its line without the comment.
        #expect(jobs[1].prompt == "\"a light shirt with a pattern\"   count=2 label=shirt")
    }

    @Test func escapesAndQuotedValues() throws {
        let jobs = try parse(#"""
            "say \"hi\" to a \\ boot" negative_prompt="no \"noise\""
            "C:\temp # not a comment" policy="zipar:4"   # a comment
            "tab	inside"
            """#)
        #expect(jobs[0].parameters.prompt == #"say "hi" to a \ boot"#)
        #expect(jobs[0].parameters.negativePrompt == #"no "noise""#)
        #expect(jobs[1].parameters.prompt == #"C:\temp # not a comment"# && jobs[1].parameters.policyText == "zipar:4")
        #expect(jobs[1].prompt == #""C:\temp # not a comment" policy="zipar:4""#)
        #expect(jobs[2].parameters.prompt == "tab\tinside")
    }

    @Test(arguments: [
        // line 2 of each input; (column, field)
        (#""a dark boot"#, 1, "prompt"),
        (#""a dark boot" negative_prompt="blurry"#, 31, "negative_prompt"),
        (#""a dark boot"x seed=1"#, 14, "prompt"),
        (#"  "ends with an escaped quote\""#, 3, "prompt"),
        (#""boot" label="my boot""#, 8, "label"),
        (#""boot" "second text""#, 8, "prompt"),
        (#""boot" seed"#, 8, "seed"),
        (#"boot seed=1"#, 1, "prompt"),
        (#""boot" class=3"#, 8, "class"),
        (#""boot" size=20"#, 8, "size"),
        (#""   ""#, 1, "prompt"),
        (#""boot" negative_prompt="""#, 8, "negative_prompt"),
    ])
    func errorsNameLineColumnAndField(line: String, column: Int, field: String) {
        let errs = errors("\"a coat\"\n\(line)\n\"a bag\"")
        #expect(errs.count == 1, "\(errs)")
        #expect(errs.first?.line == 2 && errs.first?.column == column && errs.first?.field == field, "\(errs)")
        #expect(errs.first?.description.hasPrefix("line 2, column \(column), \(field): ") == true, "\(errs)")
    }

    @Test func unterminatedQuoteSaysWhereItOpened() {
        let e = errors("\"a coat\"\n\"a boot\" negative_prompt=\"blurry seed=3").first
        #expect(e?.line == 2 && e?.column == 26 && e?.field == "negative_prompt")
        #expect(e?.message.contains("unterminated quote") == true)
    }

    @Test func textModelNeedsAPromptAndTakesNoClass() {
        #expect(errors("seed=3").first?.field == "prompt")
        #expect(errors("seed=3").first?.message.contains("required") == true)
        #expect(errors("dress seed=3").first?.message.contains("quote the prompt") == true)
        #expect(errors("{\"class\": \"dress\"}", format: .jsonl).first?.field == "class")
        #expect(errors("\"boot\" negative_prompt=\"\"").first?.message.contains("empty") == true)
    }

    @Test func classModelRejectsPrompts() {
        for line in ["\"a dark ankle boot\"", "dress prompt=\"a dark dress\"", "dress negative_prompt=blurry"] {
            let e = errors(line, model: fashion).first
            #expect(e?.field == (line.contains("negative") ? "negative_prompt" : "prompt"), "\(line): \(String(describing: e))")
        }
        #expect(errors("\"a dark ankle boot\"", model: fashion).first?.message.contains("class-conditional") == true)
        #expect(errors("{\"class\": \"dress\", \"prompt\": \"a dress\"}", model: fashion, format: .jsonl).first?.field == "prompt")
    }

    @Test func jsonLines() throws {
        let jobs = try parse("""
            {"prompt": "a dark ankle boot", "negative_prompt": "blurry", "seed": 3, "policy": "zipar:4"}
            {"prompt": "say \\"hi\\"", "negative_prompt": null, "count": 2}
            """, format: .jsonl)
        #expect(jobs.count == 3)
        #expect(jobs[0].parameters.prompt == "a dark ankle boot" && jobs[0].parameters.negativePrompt == "blurry")
        #expect(jobs[0].parameters.seed == 3 && jobs[0].parameters.policyText == "zipar:4")
        #expect(jobs[1].parameters.prompt == "say \"hi\"" && jobs[1].parameters.negativePrompt == nil)
        let errs = errors("""
            {"prompt": "fine"}
            {"prompt": null}
            {"prompt": "two\\nlines"}
            {"prompt": "x", "size": 8}
            """, format: .jsonl)
        #expect(errs.map(\.line) == [2, 3, 4])
        #expect(errs.map(\.field) == ["prompt", "prompt", "size"])
        #expect(errs[1].message.contains("U+000A"))
        // An object with nothing in it is still a line: it lacks what the model draws from.
        #expect(errors("{}", format: .jsonl).first?.field == "prompt")
        #expect(errors("{}", model: fashion, format: .jsonl).first?.field == "class")
    }

    /// The parameters of an exported job's JSON read back as a JSONL prompt line, for both kinds of model.
    @Test func exportedParametersReadBackAsJSONL() throws {
        let text = try parse(#""a \"dark\" boot" negative_prompt="blurry" policy=zipar:4 seed=9 cfg=3"#)[0].parameters
        let line = String(decoding: try JSONEncoder().encode(text), as: UTF8.self)
        #expect(!line.contains("\"class\""))
        #expect(try parse(line, format: .jsonl)[0].parameters == text)
        let classic = try parse("coat policy=adaptive:4 seed=5 cfg_interval=10", model: fashion)[0].parameters
        let classLine = String(decoding: try JSONEncoder().encode(classic), as: UTF8.self)
        #expect(try parse(classLine, model: fashion, format: .jsonl)[0].parameters == classic)
    }

    @Test func sizesTheModelDraws() throws {
        var multi = fashionText
        multi.sizes = [8, 32]
        let jobs = try parse("\"boot\" size=8\n\"boot\" size=16\n\"boot\" size=32\n\"boot\"", model: multi)
        #expect(jobs.map(\.parameters.size) == [8, 16, 32, nil])
        #expect(errors("\"boot\" size=24", model: multi).first?.message.contains("8, 16, 32") == true)
        #expect(errors("\"boot\" size=8 policy=zipar:9", model: multi).first?.field == "policy")
        #expect(errors("\"boot\" size=0").first?.field == "size")
    }

    /// `size=HxW` in prompt lines and JSONL (an integer or text): any grid whose image fits the bundle's
    /// context; errors name the line and `size` (or `policy`, for a window wider than the grid).
    @Test func nonSquareSizesInLinesAndJSONL() throws {
        var bundle = fashionText
        bundle.maxPositions = 512
        let jobs = try parse("\"boot\" size=12x20 policy=zipar:20\n\"boot\" size=20x12\n\"boot\" size=16", model: bundle)
        #expect(jobs.map(\.parameters.size) == [ImageSize(rows: 12, columns: 20), ImageSize(rows: 20, columns: 12), 16])
        let json = try parse(#"{"prompt": "boot", "size": "12x20"}"# + "\n" + #"{"prompt": "boot", "size": 16}"#, model: bundle, format: .jsonl)
        #expect(json.map(\.parameters.size) == [ImageSize(rows: 12, columns: 20), 16])
        let tooBig = errors("\"boot\"\n\"boot\" size=24x24", model: bundle)
        #expect(tooBig.first?.line == 2 && tooBig.first?.field == "size" && tooBig.first?.message.contains("600 positions") == true)
        #expect(errors("\"boot\" size=12x20 policy=zipar:21", model: bundle).first?.field == "policy")
        #expect(errors("\"boot\" size=12y20", model: bundle).first?.field == "size")
        #expect(errors(#"{"prompt": "boot", "size": "12x0"}"#, model: bundle, format: .jsonl).first?.field == "size")
        // Without a context (Janus-Pro, or a folder that states none) only the native square grid.
        #expect(errors("\"boot\" size=12x20").first?.field == "size")
    }

    /// Files written before quoting existed read exactly as they did: the class first, `#` anywhere
    /// starting a comment, tabs and outer blanks ignored, key=value words.
    @Test func classFilesParseAsBefore() throws {
        let jobs = try parse("dress#comment\n\tcoat\tseed=5 # \"quoted\" comment\n  bag policy=zipar:4#x  \n", model: fashion)
        #expect(jobs.map(\.parameters.classLabel) == [3, 4, 8])
        #expect(jobs.map(\.prompt) == ["dress", "coat\tseed=5", "bag policy=zipar:4"])
        #expect(jobs[1].parameters.seed == 5 && jobs[2].parameters.policyText == "zipar:4")
        #expect(jobs.allSatisfy { $0.parameters.prompt == nil && $0.parameters.negativePrompt == nil && $0.parameters.size == nil })
        // `class=` may now be spelled out; a line without a class is still an error naming it.
        #expect(try parse("class=dress seed=2", model: fashion)[0].parameters.classLabel == 3)
        #expect(errors("seed=2", model: fashion).first?.field == "class")
    }

    @Test func exampleFilesParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let classic = try String(contentsOf: root.appendingPathComponent("examples/prompts.txt"), encoding: .utf8)
        let classJobs = try parse(classic, model: fashion)
        #expect(classJobs.count > 10 && classJobs.allSatisfy { $0.parameters.prompt == nil && $0.className != nil })
        let text = try String(contentsOf: root.appendingPathComponent("examples/prompts-text.txt"), encoding: .utf8)
        let textJobs = try parse(text)
        #expect(textJobs.count >= 10 && textJobs.allSatisfy { $0.parameters.prompt != nil })
        #expect(!errors(text, model: fashion).isEmpty)
    }

    @Test func modelSpecFromADirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zipar-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ text: String) throws {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try write("config.json", #"{"model_type": "emu3_text_model", "hidden_size": 64}"#)
        #expect(throws: ModelError.self) { try ModelSpec.load(directory: dir.path) }   // no layout.json
        try write("layout.json", #"{"name": "fashion-text-16", "grid": {"rows": 16, "cols": 16}}"#)
        #expect(try ModelSpec.load(directory: dir.path) == fashionText)
        try write("layout.json", #"{"grid": {"rows": 16, "cols": 12}}"#)
        #expect(throws: ModelError.self) { try ModelSpec.load(directory: dir.path) }
        try write("layout.json", #"{"grid": {"rows": 8, "cols": 8}}"#)
        #expect(try ModelSpec.load(directory: dir.path).name == dir.lastPathComponent)
        try write("config.json", #"{"model_type": "llama"}"#)
        #expect(throws: ModelError.self) { try ModelSpec.load(directory: dir.path) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let classic = try ModelSpec.load(directory: root.appendingPathComponent("models/fashion-16").path)
        #expect(classic.conditioning == .classLabel && classic.name == "fashion-16" && classic.numClasses == 10)
    }
}
