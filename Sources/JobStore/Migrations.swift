import Foundation

/// One numbered file of `migrations/`: `0001_init.sql` is version 1.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version; self.name = name; self.sql = sql
    }

    /// The numbered `.sql` files of `directory`, by version. Throws on a duplicate or unnumbered name.
    public static func load(directory: String) throws -> [Migration] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ConfigError("cannot read migrations directory \(directory): \(error.localizedDescription)")
        }
        var out: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".sql") {
            let digits = file.prefix { $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits) else {
                throw ConfigError("migration \(file) must start with its number, e.g. 0002_add_index.sql")
            }
            if out.contains(where: { $0.version == version }) { throw ConfigError("two migrations numbered \(version)") }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            out.append(Migration(version: version, name: String(file.dropLast(4)), sql: sql))
        }
        guard !out.isEmpty else { throw ConfigError("no migrations (*.sql) in \(directory)") }
        return out.sorted { $0.version < $1.version }
    }

    /// Where the migrations are: `explicit`, else $ZIPAR_MIGRATIONS, ./migrations, the source tree the
    /// executable was built in (<repo>/.build/<config>/exe), or /usr/local/share/zipar/migrations.
    public static func findDirectory(explicit: String? = nil) -> String? {
        if let explicit { return explicit }
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["ZIPAR_MIGRATIONS"], !env.isEmpty { candidates.append(env) }
        candidates.append(FileManager.default.currentDirectoryPath + "/migrations")
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<5 {
            exe = exe.deletingLastPathComponent()
            candidates.append(exe.appendingPathComponent("migrations").path)
        }
        candidates.append("/usr/local/share/zipar/migrations")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/0001_init.sql") }
    }

    /// The file split into single statements (the extended query protocol runs one at a time):
    /// splits on `;` outside quotes, dollar quotes and comments.
    public var statements: [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(sql)
        var i = 0
        func flush() {
            let t = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty && !t.split(separator: "\n").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }) {
                out.append(t)
            }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {
                while i < chars.count && chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); i += 1
                while i < chars.count { current.append(chars[i]); if chars[i] == c { i += 1; break }; i += 1 }
                continue
            }
            if c == "$" {
                var j = i + 1
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                if j < chars.count && chars[j] == "$" {
                    let tag = String(chars[i...j])
                    current += tag; i = j + 1
                    while i < chars.count {
                        if chars[i] == "$" && String(chars[i..<min(i + tag.count, chars.count)]) == tag {
                            current += tag; i += tag.count; break
                        }
                        current.append(chars[i]); i += 1
                    }
                    continue
                }
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return out
    }
}
