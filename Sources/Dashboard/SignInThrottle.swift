import Foundation
import Hummingbird
import JobCore
import NIOCore

/// Failed sign-ins per client address (issue 24): after `limit` wrong admin tokens within `window`
/// seconds, the address is refused (429 with Retry-After) until the oldest of them is `window` old, even
/// with the right token, so the token cannot be guessed at the speed of the network. A success clears the
/// address's failures. Other addresses are not held back: one client cannot lock the operator out.
final class SignInThrottle: Sendable {
    let limit: Int
    let window: TimeInterval
    /// Addresses remembered at most: an attacker with many addresses can make the server forget old
    /// failures, never grow without bound.
    let maxAddresses: Int
    private let failures = Locked<[String: [Date]]>([:])

    init(limit: Int = 5, window: TimeInterval = 60, maxAddresses: Int = 10_000) {
        self.limit = limit; self.window = window; self.maxAddresses = maxAddresses
    }

    /// Seconds until `address` may try again (at least 1), or nil when it may try now.
    func retryAfter(_ address: String, now: Date = Date()) -> Int? {
        failures.withLock { all in
            let recent = (all[address] ?? []).filter { now.timeIntervalSince($0) < window }
            all[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return max(1, Int((window - now.timeIntervalSince(oldest)).rounded(.up)))
        }
    }

    func recordFailure(_ address: String, now: Date = Date()) {
        failures.withLock { all in
            if all[address] == nil && all.count >= maxAddresses {
                all = all.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
                if all.count >= maxAddresses, let stalest = all.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) }) {
                    all[stalest.key] = nil
                }
            }
            all[address, default: []].append(now)
        }
    }

    func recordSuccess(_ address: String) {
        failures.withLock { $0[address] = nil }
    }
}

/// The address of the client whose request is being answered, set per request by `ClientAddressResponder`
/// from the connection itself (never from a header a client could write). Nil where no connection is
/// (tests driving the router directly).
public enum ClientAddress {
    @TaskLocal public static var current: String?
}

/// The dashboard's routes behind the connection's peer address: the router's handlers take a
/// `BasicRequestContext`, which does not carry the channel, so this outer responder reads it and hands it
/// down as `ClientAddress.current`.
struct ClientAddressResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == BasicRequestContext {
    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let channel: any Channel
        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            channel = source.channel
        }
    }

    let inner: Inner

    func respond(to request: Request, context: Context) async throws -> Response {
        let peer = context.channel.remoteAddress
        let address = peer?.ipAddress ?? peer?.pathname ?? "unknown"
        let basic = BasicRequestContext(source: ApplicationRequestContextSource(channel: context.channel, logger: context.logger))
        return try await ClientAddress.$current.withValue(address) {
            try await inner.respond(to: request, context: basic)
        }
    }
}
