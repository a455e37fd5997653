import Foundation
import Logging
import Testing
@testable import CLISupport

/// `--log-format json`: one object a line with typed fields (issue 24: every value used to be a string,
/// and `label` held the logger's name instead of the job's label).
@Suite struct JSONLogTests {
    func decode(_ metadata: Logger.Metadata) throws -> [String: Any] {
        let event = LogEvent(level: .info, message: "job done", metadata: metadata, source: "test",
                             file: #fileID, function: #function, line: #line)
        let data = JSONLogHandler.line(event: event, metadata: ["worker": "w1"], logger: "zipar.worker",
                                       now: Date(timeIntervalSince1970: 0))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func booleansAreJSONBooleans() {
        let event = LogEvent(level: .error, message: "job failed", metadata: ["permanent": .stringConvertible(true)], source: "t",
                             file: #fileID, function: #function, line: #line)
        let text = String(decoding: JSONLogHandler.line(event: event, metadata: [:], logger: "x"), as: UTF8.self)
        #expect(text.contains("\"permanent\":true"), "\(text)")
    }

    @Test func valuesKeepTheirTypes() throws {
        let o = try decode(["job": "a1b2", "label": "123", "passes": .stringConvertible(76), "decode_ms": .stringConvertible(704),
                            "retry_in_s": .stringConvertible(0.577), "permanent": .stringConvertible(false),
                            "models": .array([.string("fashion-16"), .string("fashion-text-16")])])
        #expect(o["passes"] as? Int == 76 && o["decode_ms"] as? Int == 704)
        #expect(o["retry_in_s"] as? Double == 0.577)
        #expect(o["permanent"] as? Bool == false)
        #expect(o["models"] as? [String] == ["fashion-16", "fashion-text-16"])
        #expect(o["label"] as? String == "123", "a string stays a string, even one that looks like a number")
        #expect(o["job"] as? String == "a1b2" && o["worker"] as? String == "w1")
        #expect(o["logger"] as? String == "zipar.worker" && o["message"] as? String == "job done")
        #expect(o["level"] as? String == "info" && o["ts"] as? String == "1970-01-01T00:00:00.000Z")
    }
}
