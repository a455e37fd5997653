import Foundation
import PostgresNIO

/// Where the job store lives: from `DATABASE_URL`, else the standard libpq variables
/// (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE, PGSSLMODE, PGSSLROOTCERT).
/// A PGHOST starting with `/` is a Unix socket directory. Passwords never appear in `description`.
public struct DatabaseConfig: Sendable, CustomStringConvertible {
    public enum SSLMode: String, Sendable { case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    public var sslRootCert: String?
    public var applicationName: String = "zipar"

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

    /// Reads the environment. Throws `ConfigError` naming the bad variable.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseConfig {
        let osUser = env["USER"] ?? env["LOGNAME"] ?? "postgres"
        var config: DatabaseConfig
        if let url = env["DATABASE_URL"], !url.isEmpty {
            config = try parseURL(url, defaultUser: osUser)
        } else {
            let user = env["PGUSER"].nonEmpty ?? osUser
            config = DatabaseConfig(host: env["PGHOST"].nonEmpty ?? "/var/run/postgresql", user: user,
                                    database: env["PGDATABASE"].nonEmpty ?? user)
            if let p = env["PGPORT"].nonEmpty {
                guard let port = Int(p), (1...65535).contains(port) else { throw ConfigError("PGPORT '\(p)' is not a port number") }
                config.port = port
            }
            config.password = env["PGPASSWORD"].nonEmpty
        }
        if let mode = env["PGSSLMODE"].nonEmpty {
            guard let m = SSLMode(rawValue: mode) else {
                throw ConfigError("PGSSLMODE '\(mode)' must be one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            config.sslMode = m
        }
        if let root = env["PGSSLROOTCERT"].nonEmpty { config.sslRootCert = root }
        if config.password == nil {
            let home = env["HOME"] ?? NSHomeDirectory()
            let passfile = env["PGPASSFILE"].nonEmpty ?? home + "/.pgpass"
            config.password = passwordFromFile(passfile, config: config)
        }
        return config
    }

    static func parseURL(_ text: String, defaultUser: String) throws -> DatabaseConfig {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw ConfigError("DATABASE_URL must look like postgres://user:password@host:port/database")
        }
        let user = c.user?.removingPercentEncoding ?? defaultUser
        var db = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        if db.isEmpty { db = user }
        var config = DatabaseConfig(host: c.host?.removingPercentEncoding ?? "localhost", port: c.port ?? 5432, user: user,
                                    password: c.password?.removingPercentEncoding, database: db)
        for item in c.queryItems ?? [] {
            guard let value = item.value else { continue }
            switch item.name {
            case "sslmode":
                guard let m = SSLMode(rawValue: value) else { throw ConfigError("DATABASE_URL sslmode '\(value)' is not a libpq sslmode") }
                config.sslMode = m
            case "host": config.host = value
            case "sslrootcert": config.sslRootCert = value
            case "application_name": config.applicationName = value
            default: break
            }
        }
        if config.host.isEmpty { config.host = "/var/run/postgresql" }
        return config
    }

    /// libpq's password file: lines `host:port:database:user:password`, `*` matches anything.
    static func passwordFromFile(_ path: String, config: DatabaseConfig) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
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
                return fields[4]
            }
        }
        return nil
    }

    /// The postgres-nio client configuration.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var c: PostgresClient.Configuration
        if isUnixSocket {
            c = .init(unixSocketPath: "\(host)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            var tlsConfig = TLSConfiguration.makeClientConfiguration()
            if let root = sslRootCert { tlsConfig.trustRoots = .file(root) }
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case .disable:
                tls = .disable
            case .allow, .prefer:
                tlsConfig.certificateVerification = .none
                tls = .prefer(tlsConfig)
            case .require:
                // libpq: require without a root certificate does not verify the server.
                if sslRootCert == nil { tlsConfig.certificateVerification = .none } else { tlsConfig.certificateVerification = .noHostnameVerification }
                tls = .require(tlsConfig)
            case .verifyCA:
                tlsConfig.certificateVerification = .noHostnameVerification
                tls = .require(tlsConfig)
            case .verifyFull:
                tlsConfig.certificateVerification = .fullVerification
                tls = .require(tlsConfig)
            }
            c = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        c.options.additionalStartupParameters = [("application_name", applicationName)]
        c.options.connectTimeout = .seconds(10)
        c.options.maximumConnections = 8
        return c
    }

    /// Same server, another database (tests use one fresh database each).
    public func with(database: String) -> DatabaseConfig {
        var c = self; c.database = database; return c
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Optional where Wrapped == String {
    var nonEmpty: String? {
        guard let s = self, !s.isEmpty else { return nil }
        return s
    }
}
