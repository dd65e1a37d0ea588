import FoundationEssentials
import KubeAPI

/// Finds and reads client configuration the way kubectl and client-go do.
///
/// Order: an explicit `--kubeconfig` file; else every file of `$KUBECONFIG` (colon separated, merged: the first
/// file to define a cluster, user or context name wins, and the first `current-context` wins); else
/// `~/.kube/config`; else the in-cluster service account. Relative file paths inside a kubeconfig are resolved
/// against the kubeconfig's directory. Pure except for reading the files named, which goes through `readFile`.
public struct KubeConfigLoader: Sendable {
    public var environment: [String: String]
    public var home: String
    /// Where a pod's service account is mounted (overridable for tests).
    public var serviceAccountDirectory: String
    /// Reads a kubeconfig, a file it names (certificates, keys) or the service account's CA and namespace; the file
    /// system unless told otherwise.
    public var readFile: @Sendable (String) throws -> [UInt8]

    public init(
        environment: [String: String], home: String? = nil,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount",
        readFile: @escaping @Sendable (String) throws -> [UInt8] = {
            Array(try Data(contentsOf: URL(fileURLWithPath: $0)))
        }
    ) {
        self.environment = environment
        self.home = home ?? environment["HOME"] ?? "/root"
        self.serviceAccountDirectory = serviceAccountDirectory
        self.readFile = readFile
    }

    /// Loads the configuration.
    /// - Parameters:
    ///   - kubeconfig: the `--kubeconfig` flag, when given.
    ///   - context: the `--context` flag, when given.
    /// - Throws: `ConfigurationError` naming the missing file, context, cluster or user.
    public func load(kubeconfig: String? = nil, context: String? = nil) throws -> ClientConfiguration {
        var files: [String] = []
        if let kubeconfig, !kubeconfig.isEmpty {
            files = [kubeconfig]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            files = list.split(separator: ":").map(String.init).filter { FileManager.default.fileExists(atPath: $0) }
        } else if FileManager.default.fileExists(atPath: home + "/.kube/config") {
            files = [home + "/.kube/config"]
        }
        if files.isEmpty {
            if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster() }
            throw ConfigurationError(
                "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster")
        }
        return try fromFiles(files, context: context)
    }

    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT`, the mounted token (re-read on rotation),
    /// CA and namespace.
    public func inCluster() throws -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"]
        else {
            throw ConfigurationError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set in a cluster")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.fileExists(atPath: tokenPath) else {
            throw ConfigurationError("service account token \(tokenPath) not found")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let ca = try? readFile(serviceAccountDirectory + "/ca.crt")
        let namespace = (try? readFile(serviceAccountDirectory + "/namespace")).map {
            String(decoding: $0, as: UTF8.self).trimmed()
        }
        return ClientConfiguration(
            server: "https://\(hostPart):\(port)", certificateAuthorityPEM: ca, credentials: .tokenFile(tokenPath),
            namespace: (namespace?.isEmpty ?? true) ? "default" : namespace!)
    }

    private struct Named {
        var value: JSON
        var directory: String
    }

    private func fromFiles(_ files: [String], context requested: String?) throws -> ClientConfiguration {
        var clusters: [String: Named] = [:]
        var users: [String: Named] = [:]
        var contexts: [String: Named] = [:]
        var current: String?
        for file in files {
            let text: String
            do {
                text = String(decoding: try readFile(file), as: UTF8.self)
            } catch {
                throw ConfigurationError("cannot read kubeconfig \(file): \(error)")
            }
            let document: JSON
            do {
                document = try YAMLToJSON.documents(text).first ?? [:]
            } catch {
                throw ConfigurationError("kubeconfig \(file) is not valid YAML: \(error)")
            }
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
            for (key, field) in [("clusters", "cluster"), ("users", "user"), ("contexts", "context")] {
                for entry in document[key]?.arrayValue ?? [] {
                    guard let name = entry["name"]?.stringValue else { continue }
                    let named = Named(value: entry[field] ?? [:], directory: directory)
                    switch key {
                    case "clusters": if clusters[name] == nil { clusters[name] = named }
                    case "users": if users[name] == nil { users[name] = named }
                    default: if contexts[name] == nil { contexts[name] = named }
                    }
                }
            }
            if current == nil, let c = document["current-context"]?.stringValue, !c.isEmpty { current = c }
        }
        guard let contextName = requested ?? current else {
            throw ConfigurationError("no current-context in \(files.joined(separator: ":")) and no --context given")
        }
        guard let context = contexts[contextName] else {
            throw ConfigurationError("context \"\(contextName)\" not found in \(files.joined(separator: ":"))")
        }
        let clusterName = context.value["cluster"]?.stringValue ?? ""
        guard let cluster = clusters[clusterName] else {
            throw ConfigurationError("cluster \"\(clusterName)\" of context \"\(contextName)\" not found")
        }
        guard let server = cluster.value["server"]?.stringValue, !server.isEmpty else {
            throw ConfigurationError("cluster \"\(clusterName)\" has no server")
        }
        let userName = context.value["user"]?.stringValue ?? ""
        let user = users[userName]
        if !userName.isEmpty, user == nil {
            throw ConfigurationError("user \"\(userName)\" of context \"\(contextName)\" not found")
        }
        let ca = try bytes(cluster, data: "certificate-authority-data", file: "certificate-authority")
        var credentials = ClientConfiguration.Credentials.none
        if let user {
            if let cert = try bytes(user, data: "client-certificate-data", file: "client-certificate"),
                let key = try bytes(user, data: "client-key-data", file: "client-key")
            {
                credentials = .clientCertificate(certificatePEM: cert, keyPEM: key)
            } else if let token = user.value["token"]?.stringValue, !token.isEmpty {
                credentials = .token(token)
            } else if let tokenFile = user.value["tokenFile"]?.stringValue, !tokenFile.isEmpty {
                credentials = .tokenFile(resolve(tokenFile, in: user.directory))
            }
        }
        return ClientConfiguration(
            server: server, certificateAuthorityPEM: ca, credentials: credentials,
            tlsServerName: cluster.value["tls-server-name"]?.stringValue,
            insecureSkipTLSVerify: cluster.value["insecure-skip-tls-verify"]?.boolValue == true,
            namespace: context.value["namespace"]?.stringValue ?? "default")
    }

    private func resolve(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    private func bytes(_ entry: Named, data: String, file: String) throws -> [UInt8]? {
        if let encoded = entry.value[data]?.stringValue, !encoded.isEmpty {
            guard let decoded = Base64.decode(encoded) else { throw ConfigurationError("\(data) is not valid base64") }
            return decoded
        }
        if let path = entry.value[file]?.stringValue, !path.isEmpty {
            let full = resolve(path, in: entry.directory)
            do {
                return try readFile(full)
            } catch {
                throw ConfigurationError("cannot read \(file) \(full): \(error)")
            }
        }
        return nil
    }
}
