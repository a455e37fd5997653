import Foundation

/// One numbered file of `migrations/`: `0001_init.sql` is version 1.
///
/// The migrations are compiled into the binary (`compiledIn`, generated into CompiledMigrations.swift by
/// scripts/gen-migrations.sh): `zipar-admin migrate` applies those, never whatever `./migrations` happens to
/// hold, and a directory given explicitly must match them file by file (`verified(directory:)`).
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version; self.name = name; self.sql = sql
    }

    /// The SHA-256 of the migration's text (UTF-8), lowercase hex: what `compiledIn` records per file.
    public var checksum: String { sha256Hex(Array(sql.utf8)) }

    /// The migrations compiled into this build, by version.
    public static let compiledIn: [Migration] = compiledInFiles.map { file in
        Migration(version: Int(file.name.prefix { $0.isNumber }) ?? 0, name: file.name, sql: file.sql)
    }.sorted { $0.version < $1.version }

    /// The highest compiled-in migration: the schema version this build is written against.
    public static var latestVersion: Int { compiledIn.last?.version ?? 0 }

    /// The names and SHA-256 checksums this build knows, as recorded when the migrations were compiled in.
    public static var compiledInChecksums: [(name: String, sha256: String)] {
        compiledInFiles.map { ($0.name, $0.sha256) }.sorted { $0.name < $1.name }
    }

    /// The numbered `.sql` files of `directory`, checked against the compiled-in migrations: each file must be
    /// one of them, byte for byte (same name, same SHA-256), and the files must run from 1 without a gap.
    /// Throws `ConfigError` naming the unknown, changed or missing file. Returns the migrations to apply.
    public static func verified(directory: String) throws -> [Migration] {
        let loaded = try load(directory: directory)
        let known = Dictionary(compiledInFiles.map { ($0.name, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        let names = compiledIn.map { $0.name + ".sql" }.joined(separator: ", ")
        for m in loaded {
            let file = "\(directory)/\(m.name).sql"
            guard let expected = known[m.name] else {
                throw ConfigError("\(file) is not a migration of this build of zipar (it knows \(names)); refusing to apply it")
            }
            let bytes: [UInt8]
            do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
                throw ConfigError("cannot read \(file): \(error.localizedDescription)")
            }
            let actual = sha256Hex(bytes)
            guard actual == expected else {
                throw ConfigError("\(file) differs from the migration compiled into zipar (sha256 \(actual), expected \(expected)); refusing to apply it")
            }
        }
        for (i, m) in loaded.enumerated() where m.version != i + 1 {
            let missing = compiledIn.first { $0.version == i + 1 }.map { $0.name + ".sql" } ?? "version \(i + 1)"
            throw ConfigError("\(directory) lacks \(missing), which \(m.name).sql builds on; refusing to apply a gap")
        }
        return loaded
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

/// SHA-256 (FIPS 180-4) of `bytes`, lowercase hex. Small and dependency-free: it checks migration files.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    let hex = Array("0123456789abcdef")
    var out = ""
    for byte in sha256(bytes) { out.append(hex[Int(byte >> 4)]); out.append(hex[Int(byte & 0xf)]) }
    return out
}

/// SHA-256 (FIPS 180-4) of `bytes`: the 32 bytes of the digest (webhook signatures build HMAC on it).
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var data = bytes
    let bitLength = UInt64(bytes.count) &* 8
    data.append(0x80)
    while data.count % 64 != 56 { data.append(0) }
    for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    for chunk in stride(from: 0, to: data.count, by: 64) {
        for i in 0..<16 {
            let j = chunk + 4 * i
            w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        for i in 0..<64 {
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] &+= v }
    }
    var out: [UInt8] = []
    for word in h {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
    }
    return out
}
