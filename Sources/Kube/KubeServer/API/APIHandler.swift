import KubeAPI
import Logging
import NetCore

/// The Kubernetes API: turns an `APIRequest` into an `APIResponse`. Independent of HTTP servers and sockets, so
/// tests can drive it directly.
///
/// Thread-safe; `handle` may run concurrently for many requests.
public final class APIHandler: Sendable {
    let registry: ResourceRegistry
    let storage: Storage
    let token: String?
    let clusterIPs: ServiceNetworks
    let nodePorts: NodePortAllocator
    let podNetworks: PodNetworks
    let clock: @Sendable () -> Int64
    let logger: Logger
    let serverVersion: JSON
    /// Bounds the watches of one client; `nil`: unbounded (tests driving the handler directly).
    let limiter: ClientLimiter?

    /// - Parameters:
    ///   - token: the bearer token every non-public request must carry; `nil` disables authentication (tests).
    ///   - clock: microseconds since the Unix epoch.
    ///   - limiter: counts each client's watches (by `APIRequest.client`) against its limit.
    ///   - podNetworks: the cluster CIDRs Nodes get their pod CIDRs from (none by default).
    public init(
        registry: ResourceRegistry, storage: Storage, token: String?, serviceCIDRs: [IPNetwork],
        podNetworks: PodNetworks = .none, clock: @escaping @Sendable () -> Int64, logger: Logger,
        limiter: ClientLimiter? = nil
    ) {
        self.limiter = limiter
        self.registry = registry
        self.storage = storage
        self.token = token
        self.clusterIPs = ServiceNetworks(serviceCIDRs)
        self.nodePorts = NodePortAllocator(range: 30000...32767)
        self.podNetworks = podNetworks
        self.clock = clock
        self.logger = logger
        self.serverVersion = [
            "major": "1", "minor": "32", "gitVersion": "v1.32.0+pylon", "gitCommit": "", "gitTreeState": "clean",
            "buildDate": "2026-11-25T00:00:00Z", "goVersion": "swift6", "compiler": "swiftc", "platform": "linux/amd64",
        ]
    }

    /// Answers one request. Never throws: every failure becomes a `metav1.Status` response.
    public func handle(_ request: APIRequest) async -> APIResponse {
        switch request.path {
        case "/healthz", "/livez", "/readyz":
            return .text("ok")
        case "/version", "/version/":
            return .json(serverVersion)
        default:
            break
        }
        guard authenticated(request) else { return .failure(.unauthorized()) }
        do throws(Status) {
            return try await route(request)
        } catch {
            var response = APIResponse.failure(error)
            // As kube-apiserver: a Status that says when to come back says it in Retry-After too (client-go waits
            // and retries).
            if let seconds = error.details?["retryAfterSeconds"]?.intValue {
                response.headers["retry-after"] = String(seconds)
            }
            return response
        }
    }

    private func authenticated(_ request: APIRequest) -> Bool {
        guard let token else { return true }
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer ") else { return false }
        return constantTimeEqual(Array(header.utf8.dropFirst(7)), Array(token.utf8))
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    func route(_ request: APIRequest) async throws(Status) -> APIResponse {
        let path =
            request.path.hasSuffix("/") && request.path.count > 1 ? String(request.path.dropLast()) : request.path
        switch path {
        case "/api": return .json(discoveryCoreVersions())
        case "/apis": return .json(discoveryGroups())
        case "/openapi/v3": return .json(openAPIIndex())
        default: break
        }
        if path.hasPrefix("/openapi/v3/") {
            return try openAPIDocument(String(path.dropFirst("/openapi/v3/".count)))
        }
        let parts = path.split(separator: "/")
        if parts.first == "api", parts.count == 2 {
            return try discoveryResources(group: "", version: String(parts[1]))
        }
        if parts.first == "apis", parts.count == 2 {
            guard let group = discoveryGroup(String(parts[1])) else { throw .pathNotFound() }
            return .json(group)
        }
        if parts.first == "apis", parts.count == 3 {
            return try discoveryResources(group: String(parts[1]), version: String(parts[2]))
        }
        guard let target = RequestTarget(path: path) else { throw .pathNotFound() }
        guard let resource = registry.lookup(group: target.group, version: target.version, plural: target.resource)
        else {
            throw .pathNotFound()
        }
        return try await serve(request, target: target, resource: resource)
    }

    /// The current time as `metav1.Time` text.
    func now() -> String {
        Timestamp.format(epochSeconds: clock() / 1_000_000)
    }
}
