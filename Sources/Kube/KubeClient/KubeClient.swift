import FoundationEssentials
import KubeAPI
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A Kubernetes API client over HTTPS: typed verbs on `JSON` objects, paging, watches, client-side rate limiting
/// and request metrics.
///
/// Thread-safe. API errors are thrown as `Status` (reason and code as the server sent them); transport failures as
/// `ClientError`. Call `shutdown()` before dropping the client. Tokens and keys are never logged.
public final class KubeClient: Sendable {
    /// The patch types kube-apiserver accepts.
    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
        case strategic = "application/strategic-merge-patch+json"
    }

    public let configuration: ClientConfiguration
    let transport: HTTPTransport
    let limiter: RateLimiter
    /// The largest response body read.
    static let maximumBodyBytes = 256 * 1024 * 1024
    let logger: Logger
    /// The server URL's path, prefixed to every request's.
    let basePath: String
    private let token: TokenSource

    /// - Throws: `ConfigurationError` when the CA or client certificate cannot be parsed.
    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "pylon.kube-client")) throws {
        self.configuration = configuration
        self.logger = logger
        self.limiter = RateLimiter(qps: configuration.qps, burst: configuration.burst)
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if case .clientCertificate(let cert, let key) = configuration.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw ConfigurationError("invalid certificate or key in client configuration: \(error)")
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }
        // On shutdown, wait at most this long for the server's close_notify on each connection (NIOSSL's default,
        // 5 s, held every daemon's exit for 5 s after a SIGTERM when a watch was open).
        tls.shutdownTimeout = .milliseconds(250)
        self.token = TokenSource(configuration.credentials)
        let (endpoint, basePath) = try Self.endpoint(configuration)
        self.basePath = basePath
        self.transport = try HTTPTransport(
            endpoint: endpoint, tls: endpoint.tls ? tls : nil, maximumBodyBytes: Self.maximumBodyBytes)
    }

    /// Closes connections. Pending requests and watches fail.
    public func shutdown() async throws {
        transport.shutdown()
    }

    /// Where the transport connects, from the configured server URL, and the URL's path (prefixed to every request).
    static func endpoint(_ configuration: ClientConfiguration) throws -> (HTTPTransport.Endpoint, basePath: String) {
        let server = configuration.server
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http",
            var host = url.host, !host.isEmpty
        else { throw ConfigurationError("invalid server URL \(server): expected https://host[:port]") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let isAddress = (try? SocketAddress(ipAddress: host, port: port)) != nil
        let authority = (isAddress && host.contains(":") ? "[\(host)]" : host) + (url.port.map { ":\($0)" } ?? "")
        let endpoint = HTTPTransport.Endpoint(
            tls: scheme == "https", host: host, port: port,
            serverName: configuration.tlsServerName ?? (isAddress ? nil : host), authority: authority)
        let path = url.path
        return (endpoint, path == "/" ? "" : path)
    }

    // MARK: Requests

    /// Sends one request and returns the response body; API failures become `Status`.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSON? = nil,
        contentType: String = "application/json", verb: String, resource: Resource, subresource: String? = nil
    ) async throws -> JSON {
        try await limiter.acquire()
        let response: HTTPExchangeHandler.Response
        do {
            response = try await transport.execute(
                method.rawValue, basePath + path + encode(query),
                headers: standardHeaders(contentType: body == nil ? nil : contentType), body: body?.serialized(),
                timeout: .seconds(60))
        } catch {
            Self.count(verb, resource, subresource, code: "error")
            throw error
        }
        Self.count(verb, resource, subresource, code: String(response.status))
        let bytes = response.body
        let json = try? JSONParser.parse(bytes.readableBytesView)
        guard (200..<300).contains(response.status) else {
            if let json, let status = Status(json: json) { throw status }
            throw Status(code: response.status, reason: response.reason, message: String(buffer: bytes))
        }
        guard let json else { throw ClientError.decoding("\(method.rawValue) \(path): response is not JSON") }
        return json
    }

    /// Counts a request in `pylon_kube_client_requests_total` by RBAC verb, API group (`core` for the core group),
    /// resource (with its subresource, as RBAC names it: `services/status`) and response code.
    static func count(_ verb: String, _ resource: Resource, _ subresource: String?, code: String) {
        Counter(
            label: "pylon_kube_client_requests_total",
            dimensions: [
                ("verb", verb), ("group", resource.group.isEmpty ? "core" : resource.group),
                ("resource", subresource.map { "\(resource.plural)/\($0)" } ?? resource.plural), ("code", code),
            ]
        ).increment()
    }

    /// `Accept`, `User-Agent`, the bearer token if any, and `Content-Type` when given.
    func standardHeaders(contentType: String?) -> [(String, String)] {
        var headers = [("Accept", "application/json"), ("User-Agent", "pylon/0.1")]
        if let bearer = token.current() { headers.append(("Authorization", "Bearer \(bearer)")) }
        if let contentType { headers.append(("Content-Type", contentType)) }
        return headers
    }

    func encode(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    private func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                out += "%" + String(b >> 4, radix: 16, uppercase: true) + String(b & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// Sends an arbitrary request (like `kubectl --raw`) and returns the status code and body, whatever the code.
    /// For tools and tests; API code should use the typed verbs.
    public func raw(
        _ method: String, _ pathAndQuery: String, body: [UInt8]? = nil, contentType: String = "application/json"
    ) async throws -> (status: Int, body: [UInt8]) {
        try await limiter.acquire()
        let response = try await transport.execute(
            method, basePath + pathAndQuery, headers: standardHeaders(contentType: body == nil ? nil : contentType),
            body: body, timeout: .seconds(60))
        return (response.status, Array(response.body.readableBytesView))
    }

    // MARK: Verbs

    /// Reads one object.
    public func get(_ resource: Resource, namespace: String? = nil, name: String) async throws -> JSON {
        try await send(.GET, resource.path(namespace: namespace, name: name), verb: "get", resource: resource)
    }

    /// One page of a list (`limit`/`continue` paging; selectors in their string forms).
    public func list(
        _ resource: Resource, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        limit: Int? = nil, continue token: String? = nil
    ) async throws -> JSON {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let token { query.append(("continue", token)) }
        return try await send(.GET, resource.path(namespace: namespace), query: query, verb: "list", resource: resource)
    }

    /// Every item, following `continue` tokens, and the list's resourceVersion (of the first page).
    public func listAll(
        _ resource: Resource, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        pageSize: Int = 500
    ) async throws -> (items: [JSON], resourceVersion: String) {
        var items: [JSON] = []
        let version = try await listPages(
            resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
            pageSize: pageSize
        ) { items += $0 }
        return (items, version)
    }

    /// Lists page by page, handing each page's items to `body` as it arrives (so a large collection need not be
    /// held whole); returns the list's resourceVersion (of the first page). At most 100,000 pages.
    public func listPages(
        _ resource: Resource, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        pageSize: Int = 500, _ body: ([JSON]) throws -> Void
    ) async throws -> String {
        var token: String? = nil
        var version = ""
        var pages = 0
        repeat {
            let page = try await list(
                resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
                limit: pageSize, continue: token)
            if pages == 0 { version = page["metadata"]?["resourceVersion"]?.stringValue ?? "" }
            try body(page["items"]?.arrayValue ?? [])
            token = page["metadata"]?["continue"]?.stringValue
            pages += 1
        } while !(token ?? "").isEmpty && pages < 100_000
        return version
    }

    /// Creates an object in `namespace` (or the object's own namespace).
    public func create(_ resource: Resource, namespace: String? = nil, _ object: JSON) async throws -> JSON {
        let ns = namespace ?? object["metadata"]?["namespace"]?.stringValue
        return try await send(.POST, resource.path(namespace: ns), body: object, verb: "create", resource: resource)
    }

    /// Binds a Pod to a node (`pods/binding`, what a scheduler does).
    /// - Throws: the API's `Status`: 409 when the Pod is already bound.
    public func bind(pod name: String, namespace: String, uid: String? = nil, to node: String) async throws {
        var binding: JSON = [
            "apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(name)],
            "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)],
        ]
        if let uid { binding[path: ["metadata", "uid"]] = .string(uid) }
        _ = try await send(
            .POST, Resource.pods.path(namespace: namespace, name: name, subresource: "binding"), body: binding,
            verb: "create", resource: .pods, subresource: "binding")
    }

    /// Replaces an object (optimistic concurrency through its `metadata.resourceVersion`).
    public func update(_ resource: Resource, _ object: JSON, subresource: String? = nil) async throws -> JSON {
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        let ns = object["metadata"]?["namespace"]?.stringValue
        return try await send(
            .PUT, resource.path(namespace: ns, name: name, subresource: subresource), body: object, verb: "update",
            resource: resource, subresource: subresource)
    }

    /// Replaces the status of an object through the `/status` subresource.
    public func updateStatus(_ resource: Resource, _ object: JSON) async throws -> JSON {
        try await update(resource, object, subresource: "status")
    }

    /// Patches an object (or its status with `subresource: "status"`).
    public func patch(
        _ resource: Resource, namespace: String? = nil, name: String, _ patch: JSON, type: PatchType = .merge,
        subresource: String? = nil
    ) async throws -> JSON {
        try await send(
            .PATCH, resource.path(namespace: namespace, name: name, subresource: subresource), body: patch,
            contentType: type.rawValue, verb: "patch", resource: resource, subresource: subresource)
    }

    /// Deletes an object; with `resourceVersion`/`uid` set, only that exact version; `gracePeriodSeconds` as in
    /// `DeleteOptions` (0: a Pod goes at once, without waiting for its node).
    @discardableResult
    public func delete(
        _ resource: Resource, namespace: String? = nil, name: String, uid: String? = nil,
        resourceVersion: String? = nil,
        gracePeriodSeconds: Int? = nil
    ) async throws -> JSON {
        var preconditions: JSON = [:]
        if let uid { preconditions["uid"] = .string(uid) }
        if let resourceVersion { preconditions["resourceVersion"] = .string(resourceVersion) }
        var options: JSON = ["kind": "DeleteOptions", "apiVersion": "v1"]
        if preconditions != [:] { options["preconditions"] = preconditions }
        if let gracePeriodSeconds { options["gracePeriodSeconds"] = .int(Int64(gracePeriodSeconds)) }
        let body: JSON? = preconditions == [:] && gracePeriodSeconds == nil ? nil : options
        return try await send(
            .DELETE, resource.path(namespace: namespace, name: name), body: body, verb: "delete", resource: resource)
    }
}

/// A failure that is not an API `Status`: the server could not be reached or answered something unreadable.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case transport(String)
    case decoding(String)

    public var description: String {
        switch self {
        case .transport(let m): return "transport: \(m)"
        case .decoding(let m): return "decoding: \(m)"
        }
    }
}
