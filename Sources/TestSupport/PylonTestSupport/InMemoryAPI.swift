import Foundation
import KubeAPI
import KubeServer
import Logging
import NetCore

/// The API server's request handler without a server: no TLS, no port, no HTTP. Requests go straight to
/// `APIHandler.handle` and responses come back as values, over a store in a scratch directory that `close()`
/// removes.
///
/// Not thread-safe to close while requests run; call `close()` once, at the end of the test.
public final class InMemoryAPI: Sendable {
    /// A response, its body parsed when it is JSON.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var text: String
        public var json: JSON? { try? JSONParser.parse(text) }
    }

    public let handler: APIHandler
    private let storage: Storage
    private let directory: String
    private let podNetworks: PodNetworks

    /// A handler over a fresh store, bootstrapped as `pylon server` bootstraps it (namespaces, the `kubernetes`
    /// Service), with the K3s default service range and, unless told otherwise, K3s' cluster CIDR.
    public convenience init(podNetworks: PodNetworks = .k3sDefault) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-memory-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await self.init(directory: directory, podNetworks: podNetworks)
    }

    private init(directory: String, podNetworks: PodNetworks) async throws {
        self.directory = directory
        self.podNetworks = podNetworks
        storage = try Storage(directory: directory, historyLimit: 1000, logger: Logger(label: "test"))
        handler = APIHandler(
            registry: ResourceRegistry(), storage: storage, token: nil, serviceCIDRs: [IPNetwork("10.43.0.0/16")!],
            podNetworks: podNetworks, clock: { Int64(Date().timeIntervalSince1970 * 1_000_000) },
            logger: Logger(label: "test"))
        try await handler.bootstrap()
    }

    /// Stops this handler's store and starts a new handler over the same directory, as a restarted `pylon server`
    /// (optionally with other cluster CIDRs). Close only the handler this returns.
    public func restarted(podNetworks: PodNetworks? = nil) async throws -> InMemoryAPI {
        await storage.shutdown()
        return try await InMemoryAPI(directory: directory, podNetworks: podNetworks ?? self.podNetworks)
    }

    /// Rewrites a stored object behind the handler's back, as another release might have stored it: `edit` changes
    /// the stored JSON, which is written without any check. Nothing happens when the object is absent.
    public func storeUnchecked(prefix: String, namespace: String, name: String, edit: (inout JSON) -> Void)
        async throws
    {
        _ = try await storage.write(ObjectKey(prefix: prefix, namespace: namespace, name: name)) {
            current throws(Status) in
            guard var object = current else { return .unchanged }
            edit(&object)
            return .put(object)
        }
    }

    /// Sends one request; `body` is sent as given (JSON unless `contentType` says otherwise).
    public func request(
        _ method: String, _ target: String, body: String? = nil, contentType: String = "application/json",
        headers: [String: String] = [:]
    ) async -> Reply {
        let (path, query) = APIRequest.splitTarget(target)
        var fields = headers
        if body != nil { fields["content-type"] = contentType }
        let response = await handler.handle(
            APIRequest(method: method, path: path, query: query, headers: fields, body: Array((body ?? "").utf8)))
        let text: String
        switch response.body {
        case .bytes(let bytes): text = String(decoding: bytes, as: UTF8.self)
        case .stream: text = ""
        }
        return Reply(status: response.status, headers: response.headers, text: text)
    }

    /// Starts a watch of `target` (`?watch=true` is added) and returns its events' lines as they come.
    /// - Throws: `TestFailure` when the handler answers with anything but a stream.
    public func watch(_ target: String) async throws -> AsyncStream<[UInt8]> {
        let (path, query) = APIRequest.splitTarget(target)
        let response = await handler.handle(
            APIRequest(method: "GET", path: path, query: query.merging(["watch": "true"]) { $1 }))
        guard case .stream(let stream) = response.body else {
            throw TestFailure("watch of \(target) answered \(response.status) without a stream")
        }
        return stream
    }

    /// Stops the store and removes its directory.
    public func close() async {
        await storage.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
