import Foundation
import Hummingbird
import Logging

/// The HTTP endpoints a worker (`--http`) and `zipar-admin serve` share: `/metrics` (Prometheus text
/// format), `/healthz` (the process answers) and `/readyz` (it can do its job: 200, else 503 with why).
public enum HealthRoutes {
    public static func add<Context: RequestContext>(to router: Router<Context>, metrics: @escaping @Sendable () async -> String,
                                                    ready: @escaping @Sendable () async -> String?) {
        router.get("/metrics") { _, _ in
            let text = await metrics()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/healthz") { _, _ in plain(.ok, "ok\n") }
        router.get("/readyz") { _, _ in
            if let why = await ready() { return plain(.serviceUnavailable, "not ready: \(why)\n") }
            return plain(.ok, "ready\n")
        }
    }

    public static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// `HOST:PORT` (`127.0.0.1:9090`, `[::1]:9090`, `:9090` = all interfaces) as a bind address.
public struct ListenAddress: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    public var bindAddress: BindAddress { .hostname(host, port: port) }
}
