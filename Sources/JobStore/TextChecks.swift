import Foundation

/// Names and free text that reach a terminal or a log: queue names may not hold control characters, and
/// anything a user typed is escaped before it is echoed, so no value can move the cursor, recolour or
/// clear an operator's terminal (escape injection) or reorder what they read (bidirectional overrides).
public enum QueueName {
    public static let maxLength = 100

    /// Why `name` cannot be a queue name, or nil when it can.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty || name.count > maxLength { return "queue name must be 1-\(maxLength) characters" }
        if let bad = name.unicodeScalars.first(where: \.isUnsafeInText) {
            return "queue name '\(name.terminalSafe)' holds the control character \(bad.escapedName); use letters, digits and punctuation"
        }
        return nil
    }
}

extension Unicode.Scalar {
    /// C0/C1 controls (ESC, CR, BEL, ...), DEL, and the invisible format characters that reorder or hide
    /// text (bidirectional overrides and isolates, zero-width characters).
    var isUnsafeInText: Bool {
        switch properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    var escapedName: String { "U+" + String(value, radix: 16, uppercase: true).leftPadded(to: 4) }
}

extension String {
    /// The text with every control or format character written as `\u{1B}`; printable text unchanged.
    public var terminalSafe: String {
        guard unicodeScalars.contains(where: \.isUnsafeInText) else { return self }
        var out = ""
        for s in unicodeScalars {
            if s.isUnsafeInText { out += "\\u{" + String(s.value, radix: 16, uppercase: true) + "}" } else { out.unicodeScalars.append(s) }
        }
        return out
    }

    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
