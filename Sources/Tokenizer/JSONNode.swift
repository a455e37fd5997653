import Foundation

/// A value read from tokenizer.json together with its path, so every accessor can throw an error that
/// names exactly which field is wrong. JSONSerialization does the parsing; this only adds typed, located reads.
struct JSONNode {
    let value: Any
    let path: String

    static func parse(_ data: Data) throws -> JSONNode {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw TokenizerError.invalidJSON(error.localizedDescription)
        }
        guard object is [String: Any] else { throw TokenizerError.invalidJSON("the top level is not an object") }
        return JSONNode(value: object, path: "")
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    var isNull: Bool { value is NSNull }

    /// The field `key` of this object; nil when absent or JSON null (optional components are often null).
    func optional(_ key: String) throws -> JSONNode? {
        guard let dict = value as? [String: Any] else {
            throw TokenizerError.invalidField(path: path.isEmpty ? "<root>" : path, reason: "expected an object")
        }
        guard let v = dict[key], !(v is NSNull) else { return nil }
        return JSONNode(value: v, path: childPath(key))
    }

    func required(_ key: String) throws -> JSONNode {
        guard let node = try optional(key) else { throw TokenizerError.missingField(path: childPath(key)) }
        return node
    }

    func string() throws -> String {
        guard let s = value as? String else { throw TokenizerError.invalidField(path: path, reason: "expected a string") }
        return s
    }

    func int() throws -> Int {
        // JSONSerialization hands back NSNumber (macOS) or Int (Linux); booleans must not pass as numbers.
        if isBoolean { throw TokenizerError.invalidField(path: path, reason: "expected an integer, got a boolean") }
        if let i = value as? Int { return i }
        if let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) { return i }
        throw TokenizerError.invalidField(path: path, reason: "expected an integer")
    }

    /// `value is Bool` is also true for NSNumber 0 and 1, so look at the number's storage type instead.
    private var isBoolean: Bool {
        if Swift.type(of: value) == Bool.self { return true }
        if let n = value as? NSNumber, Swift.type(of: value) != Int.self { return String(cString: n.objCType) == "c" }
        return false
    }

    func bool() throws -> Bool {
        if let b = value as? Bool { return b }
        throw TokenizerError.invalidField(path: path, reason: "expected true or false")
    }

    func array() throws -> [JSONNode] {
        guard let a = value as? [Any] else { throw TokenizerError.invalidField(path: path, reason: "expected an array") }
        return a.enumerated().map { JSONNode(value: $0.element, path: "\(path)[\($0.offset)]") }
    }

    /// Object entries in no particular order (callers that care sort or key by value).
    func entries() throws -> [(key: String, node: JSONNode)] {
        guard let d = value as? [String: Any] else { throw TokenizerError.invalidField(path: path, reason: "expected an object") }
        return d.map { (key: $0.key, node: JSONNode(value: $0.value, path: childPath($0.key))) }
    }

    func string(_ key: String) throws -> String { try required(key).string() }
    func optionalString(_ key: String) throws -> String? { try optional(key)?.string() }
    func bool(_ key: String, default d: Bool) throws -> Bool { try optional(key)?.bool() ?? d }
    /// The component's `type` tag.
    func type() throws -> String { try string("type") }
}
