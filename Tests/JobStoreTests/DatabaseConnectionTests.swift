import Foundation
import JobStore
import PostgresNIO  // re-exports NIO and NIOSSL: the fake server below
import Testing
import TestSupport

/// D1: a failed connection is reported within the connect timeout and says why. Most cases run against
/// `FakePostgres`, a few lines of the PostgreSQL start-up protocol on 127.0.0.1 (optionally behind TLS with
/// the test certificates below); a missing database also against the real test server.
///
/// Time bounds are loose on purpose: in a full `swift test` the CPU-bound model tests can hold the two
/// cooperative threads for many seconds before an awaiting test resumes. The kind of error shows what ended
/// the attempt; the bound only tells it from the defect's ~68 s (the pool's one-minute circuit breaker).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["ZIPAR_TIMING_TESTS"] == "1",
                "wall-clock bounds: scripts/test.sh runs them on their own, where no other suite's compute delays the awaits"))
struct DatabaseConnectionTests {
    /// Connects once with `config` and returns the classified failure and how long it took.
    func failure(_ config: DatabaseConfig) async -> (DatabaseConnectionError?, Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await config.checkConnection()
            return (nil, clock.now - start)
        } catch {
            let classified = error as? DatabaseConnectionError
            if classified == nil { Issue.record("unclassified connection error: \(String(reflecting: error))") }
            return (classified, clock.now - start)
        }
    }

    func tcp(_ host: String = "127.0.0.1", port: Int, _ mode: DatabaseConfig.SSLMode = .disable, root: String? = nil,
             timeout: Duration = .seconds(20)) -> DatabaseConfig {
        var c = DatabaseConfig(host: host, port: port, user: "zipar", password: "wrong", database: "jobs", sslMode: mode, sslRootCert: root)
        c.connectTimeout = timeout
        return c
    }

    @Test func closedPortIsConnectionRefused() async throws {
        let (e, took) = await failure(tcp(port: try await FakePostgres.unusedPort()))
        #expect(e?.kind == .connectionRefused && e?.isPermanent == false)
        #expect(e?.message.contains("connection refused") == true)
        #expect(took < .seconds(60))
    }

    @Test func unknownHostIsDNSFailure() async {
        let (e, took) = await failure(tcp("no-such-host.invalid", port: 5432))
        #expect(e?.kind == .dnsLookupFailed)
        #expect(e?.message.contains("DNS lookup failed") == true && e?.message.contains("no-such-host.invalid") == true)
        #expect(took < .seconds(60))
    }

    /// The reported defect: a server that never answers held the caller ~68 s. The connect timeout bounds it.
    @Test func silentServerTimesOutAtTheConnectTimeout() async throws {
        let server = try await FakePostgres.start(.silent)
        defer { server.stop() }
        let (e, took) = await failure(tcp(port: server.port, timeout: .seconds(1)))
        #expect(e?.kind == .timeout && e?.isPermanent == false)
        #expect(e?.message.contains("timed out after 1 s") == true)
        #expect(took >= .milliseconds(900) && took < .seconds(60))
    }

    @Test func wrongPasswordIsAuthenticationFailed() async throws {
        let server = try await FakePostgres.start(.rejectPassword)
        defer { server.stop() }
        let (e, _) = await failure(tcp(port: server.port))
        #expect(e?.kind == .authenticationFailed && e?.isPermanent == true)
        #expect(e?.message.contains("authentication failed") == true && e?.message.contains("28P01") == true)
    }

    @Test func unknownDatabaseIsReportedAsSuch() async throws {
        let server = try await FakePostgres.start(.missingDatabase)
        defer { server.stop() }
        let (e, _) = await failure(tcp(port: server.port))
        #expect(e?.kind == .databaseMissing && e?.isPermanent == true)
        #expect(e?.message.contains("does not exist") == true)
    }

    @Test(.enabled(if: PG.enabled && PG.configured, "needs the test PostgreSQL"))
    func unknownDatabaseOnTheRealServer() async throws {
        let config = try PG.baseConfig().with(database: "zipar_no_such_db_\(UUID().uuidString.prefix(8).lowercased())")
        let (e, _) = await failure(config)
        #expect(e?.kind == .databaseMissing && e?.isPermanent == true)
        try await PG.baseConfig().checkConnection()   // and the right one connects
    }

    @Test(.enabled(if: PG.enabled && PG.configured, "needs the test PostgreSQL"))
    func missingSocketIsReported() async throws {
        var config = try PG.baseConfig()
        config.host = "/nonexistent-socket-dir"
        let (e, took) = await failure(config)
        #expect(e?.kind == .connectionRefused && e?.message.contains("socket") == true)
        #expect(took < .seconds(60))
    }

    @Test func tlsRequiredButNotOffered() async throws {
        let server = try await FakePostgres.start(.rejectPassword)
        defer { server.stop() }
        let (e, _) = await failure(tcp(port: server.port, .require))
        #expect(e?.kind == .tlsNotOffered && e?.isPermanent == true)
    }

    @Test func certificateFromAnotherCAIsUntrusted() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await FakePostgres.start(.rejectPassword, tls: try certs.serverContext())
        defer { server.stop() }
        for mode in [DatabaseConfig.SSLMode.verifyCA, .verifyFull] {
            let (e, _) = await failure(tcp("localhost", port: server.port, mode, root: certs.otherCA))
            #expect(e?.kind == .tlsUntrustedCertificate && e?.isPermanent == true, "\(mode)")
            #expect(e?.message.contains(certs.otherCA) == true)
        }
    }

    @Test func certificateForAnotherHostIsAMismatch() async throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let server = try await FakePostgres.start(.rejectPassword, tls: try certs.serverContext())
        defer { server.stop() }
        // The certificate is for "localhost"; reaching the same server as 127.0.0.1 must fail verify-full...
        let (e, _) = await failure(tcp("127.0.0.1", port: server.port, .verifyFull, root: certs.ca))
        #expect(e?.kind == .tlsHostnameMismatch && e?.isPermanent == true)
        // ... while verify-ca does not check the name, and the right name passes: both get as far as the password.
        let (ca, _) = await failure(tcp("127.0.0.1", port: server.port, .verifyCA, root: certs.ca))
        #expect(ca?.kind == .authenticationFailed)
        let (full, _) = await failure(tcp("localhost", port: server.port, .verifyFull, root: certs.ca))
        #expect(full?.kind == .authenticationFailed)
    }

    @Test func describeConnectionErrorIsNilForOtherErrors() {
        #expect(describeConnectionError(ConfigError("x")) == nil)
        #expect(!isPermanentConnectionError(ConfigError("x")))
        let e = DatabaseConnectionError(.authenticationFailed, "authentication failed: x")
        #expect(describeConnectionError(e) == "authentication failed: x" && isPermanentConnectionError(e))
    }
}

/// The test CA, a server certificate it signed for DNS name "localhost", and an unrelated CA; written to
/// files as `sslrootcert` needs. Valid 2000 to 2199.
struct TestCertificates {
    static let caPEM = """
-----BEGIN CERTIFICATE-----
MIIBdjCCARygAwIBAgIUMede61P5icsV3fWV7vFVB9lCpxEwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNemlwYXIgdGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTk5
MDEwMTAwMDAwMFowGDEWMBQGA1UEAwwNemlwYXIgdGVzdCBDQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABMiJC2FuTeWJ7jJBuLqHnIIfGLP8fcJP94T9327f6t/4
38xrNm+zzIWYfe01YNQsGLLwYZmQzzjzpnuTTOjN7gqjQjBAMA8GA1UdEwEB/wQF
MAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRCdmyLEqEKZyFtZlXmr+wI
/RWHETAKBggqhkjOPQQDAgNIADBFAiAK4wEqr1/YEIc/BDVDFKw7JN2l/NlrhIqg
Ndlk06HyYgIhANT80Cx78bQr147yL7whPdj1dMGh5RJgNTPstY3+Ez0K
-----END CERTIFICATE-----
"""
    static let otherCAPEM = """
-----BEGIN CERTIFICATE-----
MIIBeDCCAR6gAwIBAgIUdUHPf8Ppj3rnvbf/7RsVrX0evu0wCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOemlwYXIgb3RoZXIgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjE5
OTAxMDEwMDAwMDBaMBkxFzAVBgNVBAMMDnppcGFyIG90aGVyIENBMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEo/bSrYDytdSluHgeNAlkNR7IVLDuXhYVzyQOWFXi
JxwT/yPS+SsN4KMdDpuaYCBkM/qvdikWEEHw5ibiA6PWDKNCMEAwDwYDVR0TAQH/
BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFIegs7v9CETWr0DVswn2
6ml8o0ZjMAoGCCqGSM49BAMCA0gAMEUCIDiyy8ByTUtU9vxcHaktWXX74+7zw5JA
YSbzYs/lFFPQAiEAnMfQ3ByMOe71VhCsTeYDESlP0yjgbqHtncEku8sod3Y=
-----END CERTIFICATE-----
"""
    static let serverCertPEM = """
-----BEGIN CERTIFICATE-----
MIIBnDCCAUKgAwIBAgIUBzA5ENXWz0i14EC4wGbNc9qZfgcwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNemlwYXIgdGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTk5
MDEwMTAwMDAwMFowFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEJ6UN6i1uCFbPXz5M0yPpy5MoaRYM2xoSy5qiL99Xqw48S8Lt
t2AcMeKSawMU6CfwvFY1l7S+uzlUB0Dj7UdVs6NsMGowFAYDVR0RBA0wC4IJbG9j
YWxob3N0MAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoG
CCsGAQUFBwMBMB8GA1UdIwQYMBaAFEJ2bIsSoQpnIW1mVeav7Aj9FYcRMAoGCCqG
SM49BAMCA0gAMEUCICq9ir0mt4b6jJsXBnSZnrAdTlp6QNvMSIFor6pnLdxWAiEA
uEb/FtnpUBN1QL/t1td5YjiazIaty41UEC9KIq/cA4o=
-----END CERTIFICATE-----
"""
    static let serverKeyPEM = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdjVRZ2GJUhEMhcUB
Ceh9r+Ttegg87e+r8UawzHzFNHqhRANCAAQnpQ3qLW4IVs9fPkzTI+nLkyhpFgzb
GhLLmqIv31erDjxLwu23YBwx4pJrAxToJ/C8VjWXtL67OVQHQOPtR1Wz
-----END PRIVATE KEY-----
"""
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var otherCA: String { directory + "/other-ca.pem" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zipar-certs-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.caPEM.write(toFile: ca, atomically: true, encoding: .utf8)
        try Self.otherCAPEM.write(toFile: otherCA, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func serverContext() throws -> NIOSSLContext {
        let config = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(Self.serverCertPEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(Self.serverKeyPEM.utf8), format: .pem)))
        return try NIOSSLContext(configuration: config)
    }
}

/// Just enough of a PostgreSQL server to fail a client's start-up in a chosen way.
final class FakePostgres: Sendable {
    enum Behaviour: Sendable {
        /// Accepts the TCP connection and never answers.
        case silent
        /// Asks for a cleartext password and rejects it (28P01).
        case rejectPassword
        /// Rejects the start-up: database does not exist (3D000).
        case missingDatabase
    }

    let channel: any Channel
    let port: Int

    init(channel: any Channel, port: Int) { self.channel = channel; self.port = port }

    static func start(_ behaviour: Behaviour, tls: NIOSSLContext? = nil) async throws -> FakePostgres {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(FakePostgresHandler(behaviour: behaviour, tls: tls))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FakePostgres(channel: channel, port: channel.localAddress?.port ?? 0)
    }

    func stop() { channel.close(promise: nil) }

    /// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
    static func unusedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close().get()
        return port
    }
}

final class FakePostgresHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let behaviour: FakePostgres.Behaviour
    let tls: NIOSSLContext?
    var buffer = ByteBuffer()
    var started = false
    var user = ""
    var database = ""

    init(behaviour: FakePostgres.Behaviour, tls: NIOSSLContext?) { self.behaviour = behaviour; self.tls = tls }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard case .silent = behaviour else {
            buffer.writeBuffer(&bytes)
            process(context)
            return
        }
    }

    func process(_ context: ChannelHandlerContext) {
        while true {
            if !started {
                // Untyped start-up packets: Int32 length (itself included), Int32 code, body.
                guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self), buffer.readableBytes >= Int(length),
                      var packet = buffer.readSlice(length: Int(length)) else { return }
                packet.moveReaderIndex(forwardBy: 4)
                let code = packet.readInteger(as: Int32.self) ?? 0
                if code == 80877103 {   // SSLRequest
                    if let tls {
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "S")), promise: nil)
                        try? context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
                    } else {
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "N")), promise: nil)
                    }
                    continue
                }
                started = true
                while let key = packet.readNullTerminatedString(), !key.isEmpty, let value = packet.readNullTerminatedString() {
                    if key == "user" { user = value }
                    if key == "database" { database = value }
                }
                switch behaviour {
                case .silent: return
                case .rejectPassword:
                    var m = ByteBuffer()   // AuthenticationCleartextPassword
                    m.writeInteger(UInt8(ascii: "R")); m.writeInteger(Int32(8)); m.writeInteger(Int32(3))
                    context.writeAndFlush(wrapOutboundOut(m), promise: nil)
                case .missingDatabase:
                    fail(context, "3D000", "database \"\(database)\" does not exist")
                    return
                }
            } else {
                // Typed messages: Byte1 type, Int32 length (itself included), body.
                guard let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self),
                      buffer.readableBytes >= Int(length) + 1 else { return }
                let type = buffer.readInteger(as: UInt8.self)
                buffer.moveReaderIndex(forwardBy: Int(length))
                if type == UInt8(ascii: "p") {
                    fail(context, "28P01", "password authentication failed for user \"\(user)\"")
                    return
                }
            }
        }
    }

    /// Sends a FATAL ErrorResponse and closes.
    func fail(_ context: ChannelHandlerContext, _ state: String, _ message: String) {
        var fields = ByteBuffer()
        for (tag, value) in [("S", "FATAL"), ("V", "FATAL"), ("C", state), ("M", message)] {
            fields.writeString(tag); fields.writeString(value); fields.writeInteger(UInt8(0))
        }
        fields.writeInteger(UInt8(0))
        var m = ByteBuffer()
        m.writeInteger(UInt8(ascii: "E")); m.writeInteger(Int32(4 + fields.readableBytes)); m.writeBuffer(&fields)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(m)).whenComplete { _ in channel.close(promise: nil) }
    }
}
