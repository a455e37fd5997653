import ArgumentParser
import CLISupport
import Foundation
import JobStore

struct Export: AsyncParsableCommand, AdminCommand {
    static let configuration = CommandConfiguration(
        abstract: "Writes each result as NAME.png plus NAME.json (everything `show --json` prints).",
        discussion: """
            NAME comes from --name, a template of {label} (the job's label, or its id when it has none), {id},
            {queue}, {class} (the class name; "text" for a text-to-image job), {prompt} (a text job's prompt, a
            class job's class name; first 60 characters), {seed}, {policy} and {index} (1, 2, ... in export
            order, zero-padded); any other {name} is an error. Every value is reduced to letters, digits, '.', '_' and '-',
            so a name is always one file inside --out. Two jobs with the same name get the id's first 8
            characters appended. Files are written to a temporary name and renamed, never through an existing
            link. Exporting records the time on each result (`purge` keeps results never exported);
            --only-new skips results exported before. Failed or cancelled jobs (--state) get only the JSON.
            """)
    @Option(help: "Output directory (created).") var out: String
    @Option(help: "File name template.") var name = "{label}"
    @OptionGroup var filter: FilterOptions
    @Flag(name: .customLong("only-new"), help: "Only results not exported before.") var onlyNew = false
    @OptionGroup var common: Common

    func validate() throws {
        if name.contains("/") { throw ValidationError("--name is a file name template, not a path: no '/'") }
        let used = templatePlaceholders(name)
        if let unknown = used.first(where: { !exportPlaceholders.contains($0) }) {
            throw ValidationError("--name: unknown placeholder {\(unknown)}; known: " + exportPlaceholders.map { "{\($0)}" }.joined(separator: ", "))
        }
        if used.isEmpty { throw ValidationError("--name needs at least one of {label}, {id}, ...: else every job gets the same name") }
    }

    func run() async throws {
        let (out, template, f, onlyNew, json) = (self.out, self.name, filter.filter(defaultStates: [.done]), self.onlyNew, common.json)
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw CLIError("cannot create \(out): \(error.localizedDescription)")
        }
        let written = try await withDatabase { store -> [String] in
            let ids = try await store.exportIDs(f, onlyNew: onlyNew)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.dateEncodingStrategy = .iso8601
            var progress = Progress(total: ids.count, label: "export")
            var used = Set<String>()
            var names: [String] = []
            let digits = String(ids.count).count
            for (i, id) in ids.enumerated() {
                guard var d = try await store.job(id: id) else { continue }
                var base = fileName(template, d, index: i + 1, digits: digits)
                if used.contains(base) { base += "-" + d.id.prefix(8) }
                used.insert(base)
                if let png = try await store.png(id: id) {
                    try writeFileAtomically(Data(png), directory: out, name: base + ".png")
                    // The JSON beside it says when (no second read of the whole job for one column).
                    d.result?.exportedAt = try await store.markExported(id: id)
                }
                try writeFileAtomically(try enc.encode(d), directory: out, name: base + ".json")
                names.append(base)
                progress.step()
            }
            progress.finish()
            return names
        }
        if json { try printJSON(ExportReport(exported: written.count, directory: out, names: written)) } else {
            print("exported \(written.count) job(s) to \(out)")
        }
    }
}

/// The placeholders `--name` knows.
let exportPlaceholders = ["label", "id", "queue", "class", "prompt", "seed", "policy", "index"]

/// The names between braces in a template, in order (`{a}-{b}` -> a, b).
func templatePlaceholders(_ template: String) -> [String] {
    var names: [String] = []
    var rest = template[...]
    while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
        names.append(String(rest[rest.index(after: open)..<close]))
        rest = rest[rest.index(after: close)...]
    }
    return names
}

/// The template with each field's value reduced to a safe file-name alphabet. `index` is the job's place in
/// the export (1-based), zero-padded to `digits`.
func fileName(_ template: String, _ d: JobDetail, index: Int = 1, digits: Int = 1) -> String {
    let text = d.parameters?.prompt
    let className = text != nil ? "text" : d.className ?? "\(d.parameters?.classLabel ?? -1)"
    let padded = String(repeating: "0", count: max(0, digits - String(index).count)) + String(index)
    let values: [String: String] = [
        "label": d.label ?? d.id, "id": d.id, "queue": d.queue, "class": className,
        "prompt": String((text ?? className).prefix(60)), "index": padded,
        "seed": d.parameters.map { "\($0.seed)" } ?? "", "policy": d.parameters?.policyText ?? "",
    ]
    var name = template
    for (key, value) in values { name = name.replacingOccurrences(of: "{\(key)}", with: safe(value)) }
    return safe(name)
}

func safe(_ s: String) -> String {
    let t = String(s.unicodeScalars.map { c -> Character in
        c.isASCII && (CharacterSet.alphanumerics.contains(c) || "._-".unicodeScalars.contains(c)) ? Character(c) : "_"
    })
    return t.isEmpty || t == "." || t == ".." ? "_" : String(t.prefix(200))
}

struct ExportReport: Encodable {
    var exported: Int
    var directory: String
    /// File names without extension, in export order.
    var names: [String]
}
