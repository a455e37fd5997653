import Foundation

/// Why a tokenizer.json could not be loaded or a text not encoded. Every case names the JSON path
/// (e.g. `model.merges[12]`) so a malformed file says where it is malformed.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file is not JSON at all, or its top level is not an object.
    case invalidJSON(String)
    /// A required field is absent.
    case missingField(path: String)
    /// A field has the wrong JSON type or an impossible value.
    case invalidField(path: String, reason: String)
    /// A component type this implementation does not (yet) support, e.g. a WordPiece model.
    case unsupported(path: String, what: String)
    /// A regex pattern that ICU could not compile.
    case invalidRegex(path: String, pattern: String, reason: String)

    public var description: String {
        switch self {
        case .invalidJSON(let why): return "tokenizer.json is not valid JSON: \(why)"
        case .missingField(let path): return "tokenizer.json: missing field '\(path)'"
        case .invalidField(let path, let reason): return "tokenizer.json: invalid '\(path)': \(reason)"
        case .unsupported(let path, let what): return "tokenizer.json: unsupported \(what) at '\(path)'"
        case .invalidRegex(let path, let pattern, let reason):
            return "tokenizer.json: regex at '\(path)' (\(pattern)) does not compile: \(reason)"
        }
    }
}
