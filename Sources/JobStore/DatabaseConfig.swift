import Foundation
import Logging
import PostgresNIO  // re-exports NIO (NIOCore, NIOPosix) and NIOSSL

/// Where the job store lives, read as libpq reads it: the parameters `DATABASE_URL` states win; the libpq
/// variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE, PGSSLMODE, PGSSLROOTCERT,
/// PGCONNECT_TIMEOUT, PGAPPNAME) fill in only what the URL leaves out; then the defaults. A URL parameter
/// zipar does not know is an error naming it (a misspelt `ssl_mode=verify-full` must not silently mean
/// `prefer`). A host starting with `/` is a Unix socket directory. Passwords never appear in `description`.
public struct DatabaseConfig: Sendable, CustomStringConvertible {
    public enum SSLMode: String, Sendable { case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// A PEM file of trusted root certificates, or `system` for the system's trust store.
    public var sslRootCert: String?
    public var applicationName: String = "zipar"
    /// Bounds every connection attempt: DNS, TCP connect, TLS handshake and authentication together
    /// (PGCONNECT_TIMEOUT, URL `connect_timeout`, in whole seconds; default 10).
    public var connectTimeout: Duration = DatabaseConfig.defaultConnectTimeout
    /// What the caller should log: settings that were ignored, e.g. a `.pgpass` others can read (libpq ignores it too).
    public var warnings: [String] = []

    public static let defaultConnectTimeout: Duration = .seconds(10)
    public static let defaultSocketDirectory = "/var/run/postgresql"

    public init(host: String = "localhost", port: Int = 5432, user: String, password: String? = nil,
                database: String, sslMode: SSLMode = .prefer, sslRootCert: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password
        self.database = database; self.sslMode = sslMode; self.sslRootCert = sslRootCert
    }

    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// `user@host:port/database (sslmode)`, never the password.
    public var description: String {
        let where_ = isUnixSocket ? "\(host)/.s.PGSQL.\(port)" : "\(host):\(port)"
        return "\(user)@\(where_)/\(database) (sslmode=\(isUnixSocket ? "n/a" : sslMode.rawValue)\(password == nil ? "" : ", password set"))"
    }

    /// Reads the environment. Throws `ConfigError` naming the bad variable or URL parameter.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseConfig {
        var url = URLParameters()
        if let text = env["DATABASE_URL"].nonEmpty { url = try parseURL(text) }
        // libpq: a parameter the connection string states wins; the environment only fills the gaps.
        func value(_ key: String, _ variable: String) -> (String, String)? {
            if let v = url.values[key] { return (v, "DATABASE_URL \(key)") }
            if let v = env[variable].nonEmpty { return (v, variable) }
            return nil
        }
        let osUser = env["USER"].nonEmpty ?? env["LOGNAME"].nonEmpty ?? "postgres"
        let user = value("user", "PGUSER")?.0 ?? osUser
        var config = DatabaseConfig(host: value("host", "PGHOST")?.0 ?? defaultSocketDirectory, user: user,
                                    database: value("dbname", "PGDATABASE")?.0 ?? user)
        if case let (p, source)? = value("port", "PGPORT") {
            guard let port = Int(p), (1...65535).contains(port) else { throw ConfigError("\(source) '\(p)' is not a port number") }
            config.port = port
        }
        config.password = value("password", "PGPASSWORD")?.0
        let sslModeSetting = value("sslmode", "PGSSLMODE")
        if case let (mode, source)? = sslModeSetting {
            guard let m = SSLMode(rawValue: mode) else {
                throw ConfigError("\(source) '\(mode)' must be one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            config.sslMode = m
        }
        config.sslRootCert = value("sslrootcert", "PGSSLROOTCERT")?.0
        if case let (t, source)? = value("connect_timeout", "PGCONNECT_TIMEOUT") {
            guard let seconds = Int(t.trimmingCharacters(in: .whitespaces)), seconds >= 1 else {
                throw ConfigError("\(source) '\(t)' must be a whole number of seconds, at least 1 (zipar always bounds connecting)")
            }
            config.connectTimeout = .seconds(seconds)
        }
        if let name = value("application_name", "PGAPPNAME")?.0 ?? url.values["fallback_application_name"] {
            config.applicationName = name
        }
        if config.sslRootCert == "system" && config.sslMode != .verifyFull {
            // libpq 16: the system's roots imply verify-full; a weaker sslmode stated with them is an error.
            if sslModeSetting == nil { config.sslMode = .verifyFull } else {
                throw ConfigError("weak sslmode '\(config.sslMode.rawValue)' may not be used with sslrootcert=system (use verify-full)")
            }
        }
        if config.password == nil {
            let home = env["HOME"].nonEmpty ?? NSHomeDirectory()
            let passfile = value("passfile", "PGPASSFILE")?.0 ?? home + "/.pgpass"
            let (password, warning) = passwordFromFile(passfile, config: config)
            config.password = password
            if let warning { config.warnings.append(warning) }
        }
        return config
    }

    /// The parameters a `DATABASE_URL` states (only those): user, password, host, port, dbname and the
    /// query parameters zipar supports.
    struct URLParameters {
        var values: [String: String] = [:]
    }

    /// The libpq URL parameters zipar honours.
    static let supportedURLParameters: [String] = [
        "host", "port", "user", "password", "dbname", "sslmode", "sslrootcert", "connect_timeout",
        "application_name", "fallback_application_name", "passfile",
    ]

    /// Parameters libpq knows that zipar does not implement: refused rather than ignored, since several of
    /// them tighten security (channel_binding, require_auth, sslcrl, ssl_min_protocol_version, ...).
    static let unsupportedLibpqParameters: Set<String> = [
        "service", "channel_binding", "hostaddr", "client_encoding", "options", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "sslcompression", "sslcert", "sslkey",
        "sslpassword", "sslcertmode", "sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version",
        "ssl_max_protocol_version", "gssencmode", "krbsrvname", "gsslib", "gssdelegation", "replication",
        "target_session_attrs", "load_balance_hosts", "require_auth", "sslnegotiation",
    ]

    static func parseURL(_ text: String) throws -> URLParameters {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw ConfigError("DATABASE_URL must look like postgres://user:password@host:port/database")
        }
        var p = URLParameters()
        // URLComponents decodes percent-escapes already (`%2Ftmp%2Fsock` is the socket directory /tmp/sock).
        if let user = c.user, !user.isEmpty { p.values["user"] = user }
        if let password = c.password { p.values["password"] = password }
        if var host = c.host, !host.isEmpty {
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }  // [::1]
            p.values["host"] = host
        }
        if let port = c.port { p.values["port"] = String(port) }
        let db = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        if !db.isEmpty { p.values["dbname"] = db }
        for item in c.queryItems ?? [] {
            guard supportedURLParameters.contains(item.name) else {
                if unsupportedLibpqParameters.contains(item.name) {
                    throw ConfigError("DATABASE_URL parameter '\(item.name)' is not supported by zipar; remove it")
                }
                let squashed = item.name.lowercased().filter { $0.isLetter }
                let hint = supportedURLParameters.first { $0.filter { $0.isLetter } == squashed }.map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigError("DATABASE_URL has an unknown parameter '\(item.name)'\(hint); known: \(supportedURLParameters.joined(separator: ", "))")
            }
            guard let value = item.value else {
                throw ConfigError("DATABASE_URL parameter '\(item.name)' has no value (write \(item.name)=...)")
            }
            p.values[item.name] = value
        }
        return p
    }

    /// libpq's password file: lines `host:port:database:user:password`, `*` matches anything. Like libpq,
    /// a file that is not a plain file, or that group or others may access, is ignored with a warning.
    static func passwordFromFile(_ path: String, config: DatabaseConfig) -> (password: String?, warning: String?) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (nil, nil) }
        if (st.st_mode & S_IFMT) != S_IFREG {
            return (nil, "password file \"\(path)\" is not a plain file; ignored")
        }
        if st.st_mode & (S_IRWXG | S_IRWXO) != 0 {
            return (nil, "password file \"\(path)\" has group or world access; permissions should be u=rw (0600) or less; ignored")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return (nil, nil) }
        let host = config.isUnixSocket ? "localhost" : config.host
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for ch in line {
                if escaped { current.append(ch); escaped = false }
                else if ch == "\\" { escaped = true }
                else if ch == ":" && fields.count < 4 { fields.append(current); current = "" }
                else { current.append(ch) }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            func match(_ pattern: String, _ value: String) -> Bool { pattern == "*" || pattern == value }
            if match(fields[0], host) && match(fields[1], String(config.port)) && match(fields[2], config.database)
                && match(fields[3], config.user) {
                return (fields[4], nil)
            }
        }
        return (nil, nil)
    }

    /// The TLS settings for `sslMode` (nil: no TLS). Loads the root certificates now, so a missing or unreadable
    /// `sslrootcert` fails at once with a `DatabaseConnectionError` instead of on every connection attempt.
    func tlsConfiguration() throws -> TLSConfiguration? {
        if isUnixSocket || sslMode == .disable { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        var roots: [NIOSSLCertificate]? = nil
        if let path = sslRootCert, path != "system", sslMode != .allow, sslMode != .prefer {
            guard FileManager.default.fileExists(atPath: path) else {
                throw DatabaseConnectionError(.tlsRootCertificate, "TLS root certificate file \"\(path)\" (sslrootcert) does not exist; "
                                              + "provide it, use sslrootcert=system, or change sslmode")
            }
            do { roots = try NIOSSLCertificate.fromPEMFile(path) } catch {
                throw DatabaseConnectionError(.tlsRootCertificate, "cannot read TLS root certificate file \"\(path)\" (sslrootcert): \(error)")
            }
            guard let r = roots, !r.isEmpty else {
                throw DatabaseConnectionError(.tlsRootCertificate, "TLS root certificate file \"\(path)\" (sslrootcert) holds no PEM certificate")
            }
            tls.trustRoots = .certificates(r)
        }
        switch sslMode {
        case .disable:
            return nil
        case .allow, .prefer:
            tls.certificateVerification = .none
        case .require:
            // libpq: require verifies the chain (not the host name) only when given root certificates.
            tls.certificateVerification = roots == nil ? .none : .noHostnameVerification
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
        case .verifyFull:
            tls.certificateVerification = .fullVerification
        }
        return tls
    }

    /// The postgres-nio client configuration. Throws `DatabaseConnectionError` for an unusable `sslrootcert`.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var c: PostgresClient.Configuration
        if isUnixSocket {
            c = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            if let t = try tlsConfiguration() {
                tls = sslMode == .allow || sslMode == .prefer ? .prefer(t) : .require(t)
            } else {
                tls = .disable
            }
            c = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        c.options.additionalStartupParameters = [("application_name", applicationName)]
        c.options.connectTimeout = connectTimeout
        c.options.maximumConnections = 8
        return c
    }

    /// The same settings for one `PostgresConnection` (what `checkConnection` opens).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var c: PostgresConnection.Configuration
        if isUnixSocket {
            c = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            if let t = try tlsConfiguration() {
                let context: NIOSSLContext
                do { context = try NIOSSLContext(configuration: t) } catch {
                    throw DatabaseConnectionError(.tlsHandshakeFailed, "cannot set up TLS: \(error)")
                }
                tls = sslMode == .allow || sslMode == .prefer ? .prefer(context) : .require(context)
            } else {
                tls = .disable
            }
            c = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        c.options.additionalStartupParameters = [("application_name", applicationName)]
        c.options.connectTimeout = TimeAmount(connectTimeout)
        return c
    }

    var socketPath: String { "\(host)/.s.PGSQL.\(port)" }

    /// Opens one connection and closes it again. Fails within `connectTimeout` (plus a little) with a
    /// `DatabaseConnectionError` saying what went wrong: timeout, refused, DNS, authentication, missing
    /// database, or TLS and which check. Call it before starting a `PostgresClient`, whose pool retries a
    /// failing server for a minute and then reports only that it gave up.
    public func checkConnection(logger: Logger = DatabaseConfig.silentLogger) async throws {
        let configuration: PostgresConnection.Configuration
        do { configuration = try connectionConfiguration() } catch {
            throw DatabaseConnectionError(classifying: error, config: self) ?? error
        }
        let limit = connectTimeout
        do {
            try await withThrowingTaskGroup(of: PostgresConnection?.self) { group in
                group.addTask { try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger) }
                // postgres-nio enforces the limit itself; this is the backstop should any step not.
                group.addTask { try await Task.sleep(for: limit + .seconds(1)); return nil }
                var outcome: Result<PostgresConnection?, Error>
                do { outcome = .success(try await group.next() ?? nil) } catch { outcome = .failure(error) }
                group.cancelAll()
                // Close whatever the other task may still produce (a connection that won a close race).
                while let late = try? await group.next() { if let conn = late { try? await conn.close() } }
                guard let conn = try outcome.get() else {
                    throw DatabaseConnectionError(.timeout, "timed out after \(secondsText(limit)) connecting (connect_timeout)")
                }
                try? await conn.close()
            }
        } catch {
            throw DatabaseConnectionError(classifying: error, config: self) ?? error
        }
    }

    public static let silentLogger: Logger = {
        var l = Logger(label: "zipar.connect")
        l.logLevel = .critical
        return l
    }()

    /// Same server, another database (tests use one fresh database each).
    public func with(database: String) -> DatabaseConfig {
        var c = self; c.database = database; return c
    }
}

/// Why connecting failed, in words an operator can act on. `isPermanent`: retrying cannot help (wrong
/// password, no such database, a certificate that does not verify): a worker should exit non-zero.
public struct DatabaseConnectionError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// No answer within `connectTimeout`.
        case timeout
        /// Nothing listens on the port, or the Unix socket does not exist.
        case connectionRefused
        /// The host name does not resolve.
        case dnsLookupFailed
        /// No route to the host, network down.
        case unreachable
        /// Wrong password, unknown role, no `pg_hba.conf` entry, or no password given when one is needed.
        case authenticationFailed
        /// The server has no database of that name.
        case databaseMissing
        /// sslmode require/verify-* but the server does not offer TLS.
        case tlsNotOffered
        /// The server's certificate chain does not lead to the trusted roots (sslrootcert).
        case tlsUntrustedCertificate
        /// The certificate verifies but is not for this host name (verify-full).
        case tlsHostnameMismatch
        /// The root certificate file is missing or unreadable.
        case tlsRootCertificate
        /// Any other TLS failure.
        case tlsHandshakeFailed
        /// The server is up but refuses connections for now (starting up, shutting down, too many clients).
        case serverUnavailable
        /// The server closed the connection during start-up.
        case closedByServer
        /// The pool gave up after failing for a while (no detail survives it).
        case gaveUp
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind; self.message = message
    }

    /// Retrying with the same configuration cannot succeed.
    public var isPermanent: Bool {
        switch kind {
        case .authenticationFailed, .databaseMissing, .tlsNotOffered, .tlsUntrustedCertificate, .tlsHostnameMismatch,
             .tlsRootCertificate:
            return true
        case .timeout, .connectionRefused, .dnsLookupFailed, .unreachable, .tlsHandshakeFailed, .serverUnavailable,
             .closedByServer, .gaveUp:
            return false
        }
    }

    public var description: String { message }

    /// Classifies an error from connecting (postgres-nio, NIO, NIOSSL, the pool); nil when it is not about
    /// connecting. `config`, when given, adds where to and which TLS settings to the message.
    public init?(classifying error: Error, config: DatabaseConfig? = nil) {
        if let e = error as? DatabaseConnectionError { self = e; return }
        guard let (kind, message) = Self.classify(error, config: config) else { return nil }
        self.init(kind, message)
    }

    private static func classify(_ error: Error, config: DatabaseConfig?) -> (Kind, String)? {
        let target = config.map { $0.isUnixSocket ? $0.socketPath : "\($0.host):\($0.port)" }
        let at = target.map { " (\($0))" } ?? ""
        if let e = error as? PSQLError {
            switch e.code {
            case .server:
                let state = e.serverInfo?[.sqlState] ?? ""
                let message = e.serverInfo?[.message] ?? "server error"
                let text = "postgres: \(message) [\(state)]"
                if state == "28P01" || state.hasPrefix("28") { return (.authenticationFailed, "authentication failed: \(text)") }
                if state == "3D000" { return (.databaseMissing, "database does not exist: \(text)") }
                if ["57P03", "53300", "57P01", "57P02", "08004"].contains(state) { return (.serverUnavailable, "server not accepting connections: \(text)") }
                return nil
            case .authMechanismRequiresPassword:
                return (.authenticationFailed, "authentication failed: the server wants a password and none is set "
                        + "(DATABASE_URL, PGPASSWORD or a 0600 .pgpass entry)")
            case .unsupportedAuthMechanism, .saslError:
                return (.authenticationFailed, "authentication failed: \(e.code)\(e.underlying.map { ": \($0)" } ?? "")")
            case .sslUnsupported:
                return (.tlsNotOffered, "TLS required (sslmode=\(config?.sslMode.rawValue ?? "require")) but the server\(at) does not offer it")
            case .failedToAddSSLHandler:
                return (.tlsHandshakeFailed, "TLS could not be set up\(e.underlying.map { ": \($0)" } ?? "")")
            case .connectionError, .serverClosedConnection, .uncleanShutdown:
                if let u = e.underlying, let inner = classify(u, config: config) { return inner }
                if e.code == .connectionError { return nil }
                return (.closedByServer, "the server\(at) closed the connection during start-up")
            default:
                if let u = e.underlying { return classify(u, config: config) }
                return nil
            }
        }
        if "\(error)".contains("connectionCreationCircuitBreakerTripped") {  // ConnectionPoolError (_ConnectionPoolModule)
            return (.gaveUp, "cannot connect to PostgreSQL\(at): every attempt failed for a minute (server down or unreachable?)")
        }
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.isEmpty, e.dnsAError != nil || e.dnsAAAAError != nil {
                return (.dnsLookupFailed, "DNS lookup failed for host '\(e.host)': it does not resolve")
            }
            let inner = e.connectionErrors.compactMap { classify($0.error, config: config) }
            if let refused = inner.first(where: { $0.0 == .connectionRefused }) { return refused }
            if let first = inner.first { return first }
            return (.unreachable, "cannot connect to \(e.host):\(e.port): \(e)")
        }
        if let e = error as? ChannelError, case .connectTimeout(let t) = e {
            return (.timeout, "timed out after \(secondsText(.nanoseconds(t.nanoseconds))) connecting\(at) (connect_timeout)")
        }
        if error is SocketAddressError {
            return (.dnsLookupFailed, "DNS lookup failed for host '\(config?.host ?? "?")': \(error)")
        }
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED:
                return (.connectionRefused, "connection refused\(at): is the server running and accepting connections there?")
            case ENOENT:
                return (.connectionRefused, "no server socket\(at): is the server running, with that socket directory and port?")
            case ETIMEDOUT:
                return (.timeout, "timed out connecting\(at)")
            case ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN:
                return (.unreachable, "host unreachable\(at): \(e)")
            case EACCES:
                return (.connectionRefused, "permission denied opening the server socket\(at)")
            default:
                return nil
            }
        }
        if let e = error as? NIOSSLExtraError, e == .failedToValidateHostname || e == .serverHostnameImpossibleToMatch {
            return (.tlsHostnameMismatch, "TLS: the server's certificate is not for host '\(config?.host ?? "?")' (sslmode=verify-full checks the host name)")
        }
        if let e = error as? NIOSSLError {
            let text = "\(e)"
            if case .handshakeFailed = e {
                if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
                    let roots = config?.sslRootCert.map { "root certificates in \"\($0)\"" } ?? "the system's root certificates"
                    return (.tlsUntrustedCertificate, "TLS: the server's certificate does not verify against \(roots) (sslrootcert; "
                            + "sslmode=\(config?.sslMode.rawValue ?? "verify-ca") checks it): wrong CA, expired or self-signed certificate")
                }
                return (.tlsHandshakeFailed, "TLS handshake failed\(at): \(text)")
            }
            switch e {
            case .noSuchFilesystemObject, .failedToLoadCertificate:
                return (.tlsRootCertificate, "TLS: cannot load the root certificates (sslrootcert): \(text)")
            case .unableToValidateCertificate, .noCertificateToValidate, .cannotMatchULabel, .cannotFindPeerIP:
                return (.tlsHostnameMismatch, "TLS: cannot check the server's certificate against host '\(config?.host ?? "?")': \(text)")
            default:
                return (.tlsHandshakeFailed, "TLS failed\(at): \(text)")
            }
        }
        if error is BoringSSLError {
            return (.tlsHandshakeFailed, "TLS failed\(at): \(error)")
        }
        return nil
    }
}

/// The words for a connection failure (nil when `error` is not one): what `describeError` should say first.
public func describeConnectionError(_ error: Error) -> String? {
    DatabaseConnectionError(classifying: error)?.message
}

/// True when connecting failed in a way retrying cannot fix (authentication, missing database, certificates).
public func isPermanentConnectionError(_ error: Error) -> Bool {
    DatabaseConnectionError(classifying: error)?.isPermanent ?? false
}

public struct ConfigError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `10 s`, `1.5 s`.
func secondsText(_ d: Duration) -> String {
    let (s, atto) = d.components
    if atto == 0 { return "\(s) s" }
    return String(format: "%.1f s", Double(s) + Double(atto) / 1e18)
}

extension Optional where Wrapped == String {
    var nonEmpty: String? {
        guard let s = self, !s.isEmpty else { return nil }
        return s
    }
}
