import Foundation
import Tokenizer

/// The committed reference data made by `python3 -m tools.fixtures.make_tokenizer_fixtures` with the `tokenizers` package.
enum TokenizerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    static let names = ["emu3-like", "chameleon-like", "plain-unk"]

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer(contentsOf: root.appendingPathComponent("\(name).json"))
    }

    static func json(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(file))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static let lines: [String] = {
        (try? json("lines.json")["lines"] as? [String]) ?? []
    }()

    struct Reference {
        let ids: [[Int]]
        let withSpecial: [[Int]]
        let decode: [(ids: [Int], text: String, skipSpecialText: String)]
    }

    static func reference(_ name: String) throws -> Reference {
        let j = try json("\(name)-ids.json")
        func ints(_ a: Any) -> [Int] { (a as! [Any]).map { ($0 as! NSNumber).intValue } }
        return Reference(
            ids: (j["ids"] as! [Any]).map(ints),
            withSpecial: (j["with_special"] as! [Any]).map(ints),
            decode: (j["decode"] as! [[String: Any]]).map {
                (ints($0["ids"]!), $0["text"] as! String, $0["skip_special_text"] as! String)
            })
    }

    /// Strings compared scalar by scalar: Swift's `==` treats canonically equivalent strings as equal.
    static func same(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    /// A line made visible for failure messages.
    static func show(_ s: String) -> String {
        s.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    }
}
