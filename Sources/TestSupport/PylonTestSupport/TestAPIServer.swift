import Foundation
import KubeClient
import KubeServer
import Logging
import NetCore
import ServiceLifecycle

/// An embedded API server running inside the test process on a free loopback port, in its own temporary data
/// directory, plus helpers to drive it with the real `kubectl`.
///
/// Start with `TestAPIServer.start()`, always `stop()` (also on failure); the data directory is removed on stop.
public final class TestAPIServer: Sendable {
    public let dataDirectory: String
    public let port: Int
    public let kubeconfig: String
    private let task: Task<Void, any Error>
    private let group: ServiceGroup

    private init(dataDirectory: String, port: Int, task: Task<Void, any Error>, group: ServiceGroup) {
        self.dataDirectory = dataDirectory
        self.port = port
        self.kubeconfig = dataDirectory + "/kubeconfig.yaml"
        self.task = task
        self.group = group
    }

    /// Starts a server and waits (up to `timeout`) until it accepts connections.
    /// - Parameter dataDirectory: reuse a directory (restart tests); a fresh temporary one when `nil`.
    /// - Parameters:
    ///   - port: a fixed port (restarts on the same address); a free one when 0.
    ///   - historyLimit: how many changes watches may resume from (small values force 410 Gone).
    ///   - serviceCIDRs: dual-stack by default (K3s' IPv4 range and an IPv6 documentation range).
    ///   - bindAddress: where to listen (and the address the kubeconfig names); loopback unless a test needs
    ///     processes in network namespaces to reach the server (a lab management link).
    ///   - clientLimits: per-client bounds (small ones for the tests of those bounds).
    ///   - podNetworks: the cluster CIDRs Nodes get pod CIDRs from (K3s' 10.42.0.0/16 by default).
    public static func start(
        dataDirectory: String? = nil, port: Int = 0, historyLimit: Int = 10_000, bindAddress: String = "127.0.0.1",
        serviceCIDRs: [IPNetwork] = dualStackServiceCIDRs, clientLimits: ClientLimits = ClientLimits(),
        podNetworks: PodNetworks = .k3sDefault, timeout: Duration = .seconds(30)
    ) async throws -> TestAPIServer {
        sweepLeftovers()
        let directory =
            dataDirectory
            ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("pylon-test-\(UUID().uuidString)").path
        let ready = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let server = APIServer(
            configuration: .init(
                dataDirectory: directory, bindAddress: bindAddress, port: port,
                advertiseAddresses: bindAddress == "127.0.0.1" ? [] : [bindAddress], serviceCIDRs: serviceCIDRs,
                podNetworks: podNetworks, historyLimit: historyLimit, clientLimits: clientLimits),
            logger: logger,
            onReady: { port in ready.continuation.yield(port) })
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        let task = Task { try await group.run() }
        let port = try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                for await port in ready.stream { return port }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let port else {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw TestFailure("server did not become ready within \(timeout)")
        }
        return TestAPIServer(dataDirectory: directory, port: port, task: task, group: group)
    }

    /// The test servers' default service CIDRs.
    public static let dualStackServiceCIDRs = [IPNetwork("10.43.0.0/16")!, IPNetwork("2001:db8:43::/112")!]

    /// Removes `path` and everything in it. A removal can fail half-way when SQLite deletes its -wal and -shm files
    /// at the same moment (the directory listing goes stale), leaving files behind: it is tried again.
    static func remove(_ path: String) {
        for _ in 0..<5 {
            do {
                try FileManager.default.removeItem(atPath: path)
                return
            } catch {
                if !FileManager.default.fileExists(atPath: path) { return }
            }
        }
    }

    /// Removes data directories of earlier test runs that crashed before cleaning up (older than an hour, so
    /// concurrent runs are left alone).
    static func sweepLeftovers() {
        let fm = FileManager.default
        let root = fm.temporaryDirectory
        guard let entries = try? fm.contentsOfDirectory(atPath: root.path) else { return }
        for entry in entries where entry.hasPrefix("pylon-test-") {
            let path = root.appendingPathComponent(entry).path
            if let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                modified.timeIntervalSinceNow < -3600
            {
                try? fm.removeItem(atPath: path)
            }
        }
    }

    /// Stops the server and waits for it to finish; removes the data directory unless `keepData`.
    public func stop(keepData: Bool = false) async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        if !keepData { Self.remove(dataDirectory) }
    }

    /// A client configured from this server's kubeconfig (shut it down when done).
    public func client(qps: Double = 1000, burst: Int = 1000) throws -> KubeClient {
        var configuration = try KubeConfigLoader(environment: [:]).load(kubeconfig: kubeconfig)
        configuration.qps = qps
        configuration.burst = burst
        return try KubeClient(configuration: configuration)
    }

    /// Runs `kubectl` with this server's kubeconfig and returns its exit status and output.
    public func kubectl(_ arguments: String..., input: String? = nil) async throws -> ProcessOutput {
        try await ChildProcess.run(
            "kubectl", arguments, environment: ["KUBECONFIG": kubeconfig, "HOME": dataDirectory], input: input)
    }
}

extension TestAPIServer {
    /// Runs `body` with a fresh server and a client for it; both are stopped afterwards, also when `body` throws.
    public static func with<T>(
        historyLimit: Int = 10_000, podNetworks: PodNetworks = .k3sDefault,
        _ body: (TestAPIServer, KubeClient) async throws -> T
    ) async throws -> T {
        let server = try await TestAPIServer.start(historyLimit: historyLimit, podNetworks: podNetworks)
        let client: KubeClient
        do {
            client = try server.client()
        } catch {
            await server.stop()
            throw error
        }
        do {
            let result = try await body(server, client)
            try? await client.shutdown()
            await server.stop()
            return result
        } catch {
            try? await client.shutdown()
            await server.stop()
            throw error
        }
    }
}
