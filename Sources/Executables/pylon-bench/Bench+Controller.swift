import Foundation
import KubeAPI
import KubeClient
import NIOCore
import NIOHTTP1
import PylonTestSupport
import Synchronization

extension Bench {
    /// Controller benchmarks on a fresh dual-stack server: N pending IPv6 LoadBalancer Services (a /112 pool from
    /// 2001:db8::/32 holds 65,536 addresses) assigned by a controller started afterwards; a restart counting its
    /// writes; create→status latency for single Services at a steady rate; idle CPU.
    static func controllerBenchmarks(_ binary: String, count: Int, port: Int) async throws -> [(String, String, String)]
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pylon-bench-controller-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (server, _) = try await startServer(
            binary, directory, port, extra: ["--service-cidr", "10.43.0.0/16,2001:db8:43::/112"])
        defer { server.terminate() }
        let kubeconfig = directory + "/kubeconfig.yaml"
        var configuration = try KubeConfigLoader(environment: [:]).load(kubeconfig: kubeconfig)
        configuration.qps = 0
        let client = try KubeClient(configuration: configuration)
        do {
            let rows = try await controllerBenchmarks(
                binary, count: count, client: client, directory: directory, port: port,
                serverPID: server.processIdentifier)
            try await client.shutdown()
            return rows
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func controllerBenchmarks(
        _ binary: String, count: Int, client: KubeClient, directory: String, port: Int, serverPID: Int32
    ) async throws -> [(String, String, String)] {
        let kubeconfig = directory + "/kubeconfig.yaml"
        let kubectl = try await ChildProcess.run(
            "kubectl", ["apply", "-k", "deploy/crds/"], environment: ["KUBECONFIG": kubeconfig, "HOME": directory])
        guard kubectl.succeeded else {
            throw BenchError("kubectl apply -k deploy/crds/ failed: \(kubectl.standardError)")
        }
        _ = try await client.create(
            .namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "pylon-system"]])
        let pools = Resource.ipAddressPools
        try await eventually("the CRDs are served") {
            (try? await client.list(pools, namespace: "pylon-system")) != nil
        }
        _ = try await client.create(
            pools, namespace: "pylon-system",
            [
                "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": ["name": "bench"],
                "spec": ["addresses": ["2001:db8:1::/112"]],
            ])

        // N pending Services before the controller starts.
        try await forEachConcurrently(count, concurrency: 16) { i in
            _ = try await client.create(.services, namespace: "default", loadBalancer("lb-\(i)"))
        }
        let metricsPort = port + 1000
        let arguments = [
            "controller", "--kubeconfig", kubeconfig, "--metrics-port", String(metricsPort), "--log-level", "warning",
            "--kube-api-qps", "100000", "--kube-api-burst", "100000",
        ]
        let startRV = try await client.list(.services, namespace: "default", limit: 1)["metadata"]?["resourceVersion"]?
            .stringValue
        let serverTicks = cpuTicks(serverPID)
        let start = ContinuousClock.now
        var controller = try launch(binary, arguments)
        let assigned = try await waitForAssignments(client, names: Set((0..<count).map { "lb-\($0)" }), from: startRV)
        let allAssigned = start.duration(to: assigned)
        try await waitForMetric(metricsPort, "pylon_controller_pending_writes", 0)
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        let controllerCPU = Double(cpuTicks(controller.processIdentifier)) / tick
        let serverCPU = Double(cpuTicks(serverPID) - serverTicks) / tick
        let rss = await settledResidentKilobytes(controller.processIdentifier)
        let anonymous = await settledResidentKilobytes(controller.processIdentifier, field: "RssAnon")
        var rows = [
            (
                "pylon controller: \(count) pending Services → all assigned",
                String(format: "%.2f s", seconds(allAssigned)),
                String(
                    format:
                        "from process start; 1 write + 1 Event each; CPU used: controller %.1f s, server %.1f s (goal < 5 s)",
                    controllerCPU, serverCPU)
            ),
            (
                "pylon controller: RSS after assigning \(count)", "\(rss / 1024) MB",
                "of which anonymous \(anonymous / 1024) MB; the rest is the binary and shared libraries (goal < 60 MB)"
            ),
        ]
        let ips = try await client.listAll(.services, namespace: "default").items.flatMap {
            ($0["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        }
        guard ips.count == count, Set(ips).count == count else {
            throw BenchError("expected \(count) distinct addresses, got \(ips.count) (\(Set(ips).count) distinct)")
        }

        // Restart: count the writes to Services the new process makes until it is synced and idle.
        let versions = try await serviceVersions(client)
        controller.terminate()
        let restart = ContinuousClock.now
        controller = try launch(binary, arguments)
        try await waitForMetric(metricsPort, "pylon_controller_pending_writes", 0, ready: true)
        let restartReady = restart.duration(to: .now)
        let restartRSS = await settledResidentKilobytes(controller.processIdentifier)
        let metrics = try await fetch(metricsPort, "/metrics")
        let writes = metrics.split(separator: "\n").filter { line in
            line.hasPrefix("pylon_kube_client_requests_total{")
                && (line.contains("resource=\"services\"") || line.contains("resource=\"services/status\""))
                && !["get", "list", "watch"].contains { line.contains("verb=\"\($0)\"") }
        }
        let changed = try await serviceVersions(client).filter { versions[$0.key] != $0.value }.count
        rows.append(
            (
                "pylon controller: restart with \(count) assigned", "\(writes.count + changed) writes to Services",
                "ready and idle after \(ms(restartReady)), RSS \(restartRSS / 1024) MB; \(changed) Services changed resourceVersion"
            ))

        // Steady load: one new Service every 25 ms, create → status seen by a watcher.
        let steady = 400
        let latencies = try await steadyLatency(client, count: steady, interval: .milliseconds(25))
        rows.append(
            (
                "pylon controller: create → status, \(steady) Services at 40/s",
                "p50 \(ms(percentile(latencies, 0.5)))",
                "p99 \(ms(percentile(latencies, 0.99))) (goal < 100 ms)"
            ))

        // Idle CPU over 10 s.
        let before = cpuTicks(controller.processIdentifier)
        try await Task.sleep(for: .seconds(10))
        let used = Double(cpuTicks(controller.processIdentifier) - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
        rows.append(
            (
                "pylon controller: idle CPU with \(count + steady) Services",
                String(format: "%.2f %%", used / 10 * 100),
                "of one core, over 10 s"
            ))
        controller.terminate()
        return rows
    }

    static func loadBalancer(_ name: String) -> JSON {
        [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)],
            "spec": [
                "type": "LoadBalancer", "ipFamilies": ["IPv6"], "selector": ["app": .string(name)],
                // 10,000 LoadBalancers would exhaust the 2,768 node ports.
                "allocateLoadBalancerNodePorts": false,
                "ports": [["name": "http", "port": 80]],
            ],
        ]
    }

    static func launch(_ binary: String, _ arguments: [String]) throws -> BackgroundProcess {
        let process = try BackgroundProcess(binary, arguments)
        children.append(process)
        return process
    }

    static func forEachConcurrently(
        _ count: Int, concurrency: Int, _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var i = worker
                    while i < count {
                        try await body(i)
                        i += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Waits (bounded: 10 minutes) until every named Service was seen with an address; returns when.
    static func waitForAssignments(
        _ client: KubeClient, names: Set<String>, from resourceVersion: String?
    ) async throws -> ContinuousClock.Instant {
        var missing = names
        let deadline = ContinuousClock.now + .seconds(600)
        for try await event in client.watch(
            .services, namespace: "default", resourceVersion: resourceVersion, allowBookmarks: false,
            timeoutSeconds: 600)
        {
            if !(event.object["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).isEmpty,
                let name = event.object["metadata"]?["name"]?.stringValue
            {
                missing.remove(name)
                if missing.isEmpty { return .now }
            }
            if ContinuousClock.now > deadline { break }
        }
        throw BenchError("\(missing.count) Services never got an address")
    }

    static func serviceVersions(_ client: KubeClient) async throws -> [String: String] {
        var result: [String: String] = [:]
        for item in try await client.listAll(.services, namespace: "default").items {
            result[item["metadata"]?["name"]?.stringValue ?? ""] = item["metadata"]?["resourceVersion"]?.stringValue
        }
        return result
    }

    /// GETs `path` from the plain-HTTP server on loopback `port` (a controller's metrics and health).
    static func fetch(_ port: Int, _ path: String) async throws -> String {
        let http = try KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(port)", qps: 0))
        defer { Task { try? await http.shutdown() } }
        let response = try await http.raw("GET", path)
        guard response.status == 200 else { throw BenchError("127.0.0.1:\(port)\(path): \(response.status)") }
        return String(decoding: response.body, as: UTF8.self)
    }

    /// Waits (bounded: 2 minutes) until the controller's metric `name` has `value` (and `/readyz` answers when
    /// asked).
    static func waitForMetric(_ port: Int, _ name: String, _ value: Double, ready: Bool = false) async throws {
        try await eventually("metric \(name) is \(value)", timeout: .seconds(120)) {
            if ready, (try? await fetch(port, "/readyz")) != "ok" { return false }
            guard let text = try? await fetch(port, "/metrics") else { return false }
            return MetricSamples.parse(text)[name] == value
        }
    }

    static func steadyLatency(_ client: KubeClient, count: Int, interval: Duration) async throws -> [Duration] {
        let rv = try await client.list(.services, namespace: "default", limit: 1)["metadata"]?["resourceVersion"]?
            .stringValue
        let starts = Starts()
        return try await withThrowingTaskGroup(of: [Duration].self) { group in
            group.addTask {
                var seen: [String: Duration] = [:]
                for try await event in client.watch(
                    .services, namespace: "default", resourceVersion: rv, labelSelector: "steady=yes",
                    allowBookmarks: false, timeoutSeconds: 300)
                {
                    guard !(event.object["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).isEmpty,
                        let name = event.object["metadata"]?["name"]?.stringValue, seen[name] == nil,
                        let started = starts.get(name)
                    else { continue }
                    seen[name] = started.duration(to: .now)
                    if seen.count == count { break }
                }
                return Array(seen.values)
            }
            for i in 0..<count {
                var service = loadBalancer("steady-\(i)")
                service[path: ["metadata", "labels"]] = ["steady": "yes"]
                starts.set("steady-\(i)", .now)
                _ = try await client.create(.services, namespace: "default", service)
                try await Task.sleep(for: interval)
            }
            let result = try await group.next() ?? []
            guard result.count == count else { throw BenchError("only \(result.count) of \(count) assigned") }
            return result
        }
    }

    /// utime + stime of a process, in clock ticks.
    static func cpuTicks(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime field 14, stime field 15.
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}

/// Start instants of Services, shared between the creating task and the watcher.
final class Starts: Sendable {
    private let values = Mutex<[String: ContinuousClock.Instant]>([:])
    func set(_ name: String, _ instant: ContinuousClock.Instant) { values.withLock { $0[name] = instant } }
    func get(_ name: String) -> ContinuousClock.Instant? { values.withLock { $0[name] } }
}
