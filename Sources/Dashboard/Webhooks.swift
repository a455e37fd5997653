import AsyncHTTPClient
import Foundation
import JobCore
import JobStore
import Logging
import NIOCore
import NIOHTTP1

/// POSTs each finished batch to the webhook it named (`POST /api/batches?webhook=URL`): a JSON body
/// signed with HMAC-SHA256 under the server's webhook secret (`Zipar-Signature: sha256=HEX`), so the
/// receiver can tell it came from this server unchanged. A try that fails (no answer in `timeout`, or a
/// status outside 2xx) is retried after `backoffBase` * 2^(tries-1) seconds (at most an hour) until
/// `maxAttempts` tries; every try is recorded on the batch. Which batches are due lives in the database, so
/// several servers share the work and a restart loses nothing. HTTP goes through AsyncHTTPClient (TLS by
/// BoringSSL linked in: no libcurl, so the packaged zipar-admin needs no new shared library).
public final class WebhookSender: Sendable {
    let store: JobStore
    let secret: [UInt8]
    let logger: Logger
    let backoffBase: Double
    let maxAttempts: Int
    let timeout: Double

    public init(store: JobStore, secret: String, logger: Logger, backoffBase: Double = 5, maxAttempts: Int = 8, timeout: Double = 10) {
        self.store = store; self.secret = Array(secret.utf8); self.logger = logger
        self.backoffBase = backoffBase; self.maxAttempts = maxAttempts; self.timeout = timeout
    }

    /// Sends what is due every `seconds` until cancelled.
    public func run(every seconds: Double = 2) async {
        while !Task.isCancelled {
            do { try await deliverDue() } catch {
                logger.warning("webhooks: \(describeError(error))")
            }
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
        }
    }

    /// Tries every due webhook once; returns how many it tried.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let due = try await store.claimWebhooks(leaseSeconds: max(120, timeout * 4))
        for (batch, url, tries) in due { try await deliver(batch: batch, url: url, attempt: tries + 1) }
        return due.count
    }

    private func deliver(batch id: UUID, url: String, attempt: Int) async throws {
        guard let info = try await store.batch(id: id) else { return }
        guard webhookURL(url) != nil else {
            try await store.webhookFailed(batch: id, error: "not an http or https URL", retryIn: nil)
            return
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .iso8601
        let body = try enc.encode(WebhookPayload(batch: info, resultsURL: "/api/batches/\(info.id)/results"))
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Zipar-Signature", value: "sha256=" + hex(hmacSHA256(key: secret, message: Array(body))))
        request.headers.add(name: "Zipar-Batch-ID", value: info.id)
        request.headers.add(name: "Zipar-Delivery-Attempt", value: String(attempt))
        request.headers.add(name: "User-Agent", value: "zipar-admin")
        var failure: String
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let status = Int(response.status.code)
            // The receiver's body is not needed, only read (at most 64 KiB) so the connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            if (200..<300).contains(status) {
                try await store.webhookDelivered(batch: id)
                logger.info("webhook delivered", metadata: ["batch": "\(info.id)", "attempt": "\(attempt)"])
                return
            }
            failure = "HTTP \(status)"
        } catch {
            failure = "\(error)"
        }
        let retryIn = attempt >= maxAttempts ? nil : min(3600, backoffBase * pow(2, Double(attempt - 1)))
        logger.warning("webhook failed", metadata: ["batch": "\(info.id)", "attempt": "\(attempt)", "error": "\(failure)",
                                                    "retry_in": "\(retryIn.map { "\($0)s" } ?? "never: given up")"])
        try await store.webhookFailed(batch: id, error: "attempt \(attempt): \(failure)", retryIn: retryIn)
    }
}

/// What a webhook receives: the finished batch and where its results are.
struct WebhookPayload: Encodable {
    var event = "batch.finished"
    var batch: BatchInfo
    var resultsURL: String

    enum CodingKeys: String, CodingKey { case event, batch, resultsURL = "results_url" }
}

/// A webhook URL a batch may name: http or https with a host, at most 2000 characters; nil otherwise.
func webhookURL(_ text: String) -> String? {
    guard text.count <= 2000, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
          let host = url.host, !host.isEmpty else { return nil }
    return text
}

/// HMAC-SHA256 (RFC 2104) over the store's SHA-256.
public func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
    let block = 64
    var k = key.count > block ? sha256(key) : key
    k += [UInt8](repeating: 0, count: block - k.count)
    let inner = sha256(k.map { $0 ^ 0x36 } + message)
    return sha256(k.map { $0 ^ 0x5c } + inner)
}

public func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
    return out
}
