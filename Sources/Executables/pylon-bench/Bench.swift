import Foundation
import KubeAPI
import KubeClient
import NIOCore
import NIOHTTP1
import PylonTestSupport

/// `pylon-bench PYLON_BINARY [--services N] [--etcd]`: the API server and controller benchmarks of
/// docs/benchmarks.md, with raw etcd as the API server's reference in the same run. Every loop is bounded by N; everything runs on loopback.
@main
struct Bench {
    /// Processes started by the benchmark, stopped even when it fails.
    nonisolated(unsafe) static var children: [BackgroundProcess] = []

    static func main() async {
        do {
            try await run()
        } catch {
            for child in children { child.terminate() }
            print("benchmark failed: \(error)")
            exit(1)
        }
    }

    static func run() async throws {
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--arp-probe" {
            try ARPProbe.main(Array(args.dropFirst()))
            return
        }
        if args.first == "--cni-worker" {
            try cniWorker(Array(args.dropFirst()))
            return
        }
        guard let binary = args.first else {
            print(
                "usage: pylon-bench PYLON_BINARY [--services N] [--pods N] [--etcd] [--cni-only] [--overlay-only [--remotes N]] [--proxy-only]"
            )
            exit(2)
        }
        args.removeFirst()
        var count = 10_000
        if let i = args.firstIndex(of: "--services"), i + 1 < args.count, let n = Int(args[i + 1]) { count = n }
        let withEtcd = args.contains("--etcd")
        print("| Benchmark | Result | Detail |")
        print("|---|---|---|")
        func row(_ a: String, _ b: String, _ c: String) { print("| \(a) | \(b) | \(c) |") }
        let port = 16_900 + Int.random(in: 0..<99)
        var trials = 20
        if let i = args.firstIndex(of: "--trials"), i + 1 < args.count, let n = Int(args[i + 1]) { trials = n }
        if args.contains("--controller-only") {
            for (a, b, c) in try await controllerBenchmarks(binary, count: count, port: port + 1) { row(a, b, c) }
            return
        }
        if args.contains("--speaker-only") {
            for (a, b, c) in try await speakerBenchmarks(binary, trials: trials) { row(a, b, c) }
            return
        }
        var routes = 10_000
        if let i = args.firstIndex(of: "--routes"), i + 1 < args.count, let n = Int(args[i + 1]) { routes = n }
        if args.contains("--bgp-only") {
            for (a, b, c) in try await bgpBenchmarks(routes: routes) { row(a, b, c) }
            return
        }
        if args.contains("--bfd-only") {
            for (a, b, c) in try await bfdBenchmarks(trials: trials) { row(a, b, c) }
            return
        }
        var pods = 100
        if let i = args.firstIndex(of: "--pods"), i + 1 < args.count, let n = Int(args[i + 1]) { pods = n }
        if args.contains("--cni-only") {
            for (a, b, c) in try await cniBenchmarks(binary, pods: pods) { row(a, b, c) }
            return
        }
        var remotes = 1000
        if let i = args.firstIndex(of: "--remotes"), i + 1 < args.count, let n = Int(args[i + 1]) { remotes = n }
        if args.contains("--overlay-only") {
            for (a, b, c) in try await overlayBenchmarks(binary, remotes: remotes, port: port + 2) { row(a, b, c) }
            return
        }
        if args.contains("--proxy-only") {
            for (a, b, c) in try await proxyBenchmarks(binary, count: count, port: port + 4) { row(a, b, c) }
            return
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pylon-bench-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // Time to ready, empty store.
        var (server, ready) = try await startServer(binary, directory, port)
        row("pylon server: time to ready (empty data dir)", ms(ready), "goal < 2000 ms")
        var configuration = try KubeConfigLoader(environment: [:]).load(kubeconfig: directory + "/kubeconfig.yaml")
        configuration.qps = 0
        let client = try KubeClient(configuration: configuration)

        // Writes: N Services, 16 concurrent clients.
        let (latencies, elapsed, sampleSize) = try await createServices(client, count: count, concurrency: 16)
        let writesPerSecond = Double(count) / seconds(elapsed)
        row(
            "pylon server: create \(count) Services, 16 clients", String(format: "%.0f writes/s", writesPerSecond),
            "p50 \(ms(percentile(latencies, 0.5))), p99 \(ms(percentile(latencies, 0.99)))")

        // Watch delivery latency, 10 watchers.
        let watch = try await watchLatency(client, watchers: 10, events: 200)
        row(
            "pylon server: watch delivery to 10 watchers (200 events)", "p50 \(ms(percentile(watch, 0.5)))",
            "p99 \(ms(percentile(watch, 0.99))) (goal < 50 ms)")

        let rss = await settledResidentKilobytes(server.processIdentifier)
        row("pylon server: RSS with \(count) Services stored", "\(rss / 1024) MB", "goal < 150 MB")
        try await client.shutdown()

        // Cold start with N objects.
        server.terminate()
        (server, ready) = try await startServer(binary, directory, port)
        row(
            "pylon server: cold start with \(count + 6) objects", ms(ready),
            "until kubeconfig written and /readyz answers")
        server.terminate()

        if !args.contains("--server-only") {
            for (a, b, c) in try await controllerBenchmarks(binary, count: count, port: port + 1) { row(a, b, c) }
            for (a, b, c) in try await speakerBenchmarks(binary, trials: trials) { row(a, b, c) }
            for (a, b, c) in try await bgpBenchmarks(routes: routes) { row(a, b, c) }
            for (a, b, c) in try await bfdBenchmarks(trials: trials) { row(a, b, c) }
            for (a, b, c) in try await cniBenchmarks(binary, pods: pods) { row(a, b, c) }
            for (a, b, c) in try await overlayBenchmarks(binary, remotes: remotes, port: port + 2) { row(a, b, c) }
            for (a, b, c) in try await proxyBenchmarks(binary, count: count, port: port + 4) { row(a, b, c) }
        }

        if withEtcd {
            for (a, b, c) in try await etcdReference(count: count, valueSize: sampleSize) { row(a, b, c) }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func ms(_ d: Duration) -> String {
        String(format: "%.1f ms", seconds(d) * 1000)
    }

    static func percentile(_ values: [Duration], _ p: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// `VmRSS` of a process in kB (or another `/proc/PID/status` field, e.g. `RssAnon`).
    static func residentKilobytes(_ pid: Int32, field: String = "VmRSS") -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    /// `VmRSS` (or `field`) that a settled daemon keeps. First sampled every 250 ms until no sample in 2 s was
    /// lower than the lowest so far (at most 10 s): daemons give freed heap back to the system within a second
    /// (`MemoryTrimmer`). Then the largest sample over the next 3 s: daemons also drop their mappings of code every
    /// second and map again what they run, so this is the working set they keep, not a moment after a drop.
    static func settledResidentKilobytes(_ pid: Int32, field: String = "VmRSS") async -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        var lowest = residentKilobytes(pid, field: field)
        var lowestAt = ContinuousClock.now
        while ContinuousClock.now < deadline, lowestAt.duration(to: .now) < .seconds(2) {
            try? await Task.sleep(for: .milliseconds(250))
            let sample = residentKilobytes(pid, field: field)
            if sample < lowest {
                lowest = sample
                lowestAt = .now
            }
        }
        var largest = 0
        for _ in 0..<12 {
            try? await Task.sleep(for: .milliseconds(250))
            largest = max(largest, residentKilobytes(pid, field: field))
        }
        return largest
    }

    static func startServer(
        _ binary: String, _ directory: String, _ port: Int, extra: [String] = []
    ) async throws -> (BackgroundProcess, Duration) {
        try? FileManager.default.removeItem(atPath: directory + "/kubeconfig.yaml")
        let start = ContinuousClock.now
        let process = try BackgroundProcess(
            binary, ["server", "--data-dir", directory, "--port", String(port), "--log-level", "warning"] + extra)
        children.append(process)
        for _ in 0..<3000 {
            if FileManager.default.fileExists(atPath: directory + "/kubeconfig.yaml"),
                let config = try? KubeConfigLoader(environment: [:]).load(kubeconfig: directory + "/kubeconfig.yaml"),
                let client = try? KubeClient(configuration: config)
            {
                let ok = (try? await client.raw("GET", "/readyz").status) == 200
                try? await client.shutdown()
                if ok { return (process, start.duration(to: .now)) }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        process.terminate()
        throw BenchError("server did not become ready")
    }

    static func service(_ i: Int) -> JSON {
        [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": .string("bench-\(i)"), "labels": ["app": "bench", "shard": .string(String(i % 16))]],
            "spec": [
                "type": "ClusterIP", "selector": ["app": "bench"],
                "ports": [["name": "http", "port": 80, "targetPort": 8080]],
            ],
        ]
    }

    /// Creates `count` Services from `concurrency` tasks; returns per-request latencies, total time, and the
    /// size of one stored Service (for the etcd reference).
    static func createServices(_ client: KubeClient, count: Int, concurrency: Int) async throws -> (
        [Duration], Duration, Int
    ) {
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var mine: [Duration] = []
                    var i = worker
                    while i < count {
                        let t = ContinuousClock.now
                        _ = try await client.create(.services, namespace: "default", service(i))
                        mine.append(t.duration(to: .now))
                        i += concurrency
                    }
                    return mine
                }
            }
            var all: [Duration] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = start.duration(to: .now)
        let sample = try await client.get(.services, namespace: "default", name: "bench-0").serialized().count
        return (latencies, elapsed, sample)
    }

    static func watchLatency(_ client: KubeClient, watchers: Int, events: Int) async throws -> [Duration] {
        let origin = ContinuousClock.now
        _ = try await client.create(
            .configMaps, namespace: "default",
            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "bench-watch"], "data": ["t": "0"]])
        let rv = try await client.get(.configMaps, namespace: "default", name: "bench-watch")["metadata"]?[
            "resourceVersion"]?.stringValue
        return try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<watchers {
                group.addTask {
                    var seen: [Duration] = []
                    for try await event in client.watch(
                        .configMaps, namespace: "default", resourceVersion: rv,
                        fieldSelector: "metadata.name=bench-watch", allowBookmarks: false, timeoutSeconds: 120)
                    {
                        guard let t = event.object["data"]?["t"]?.stringValue.flatMap(Int64.init), t > 0 else {
                            continue
                        }
                        let sent = origin + .nanoseconds(t)
                        seen.append(sent.duration(to: .now))
                        if seen.count == events { break }
                    }
                    return seen
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            for _ in 0..<events {
                let t = origin.duration(to: .now)
                let nanos = t.components.seconds * 1_000_000_000 + t.components.attoseconds / 1_000_000_000
                _ = try await client.patch(
                    .configMaps, namespace: "default", name: "bench-watch", ["data": ["t": .string(String(nanos))]])
                try await Task.sleep(for: .milliseconds(10))
            }
            var all: [Duration] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// Raw etcd on loopback (default durability: fsync per batch) storing `count` values of `valueSize` bytes from
    /// 16 concurrent clients through its JSON gateway.
    static func etcdReference(count: Int, valueSize: Int) async throws -> [(String, String, String)] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-bench-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = 23_790
        let etcd = try BackgroundProcess(
            "/usr/bin/etcd",
            [
                "--data-dir", directory, "--listen-client-urls", "http://127.0.0.1:\(port)", "--advertise-client-urls",
                "http://127.0.0.1:\(port)",
                "--listen-peer-urls", "http://127.0.0.1:\(port + 10)", "--initial-advertise-peer-urls",
                "http://127.0.0.1:\(port + 10)",
                "--initial-cluster", "default=http://127.0.0.1:\(port + 10)", "--log-level", "error",
            ])
        children.append(etcd)
        defer { etcd.terminate() }
        // The same HTTP client as the API server's benchmark uses, over plain HTTP.
        let http = try KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(port)", qps: 0))
        defer { Task { try? await http.shutdown() } }
        let value = Base64.encode(Array(repeating: UInt8(ascii: "x"), count: valueSize))
        func put(_ key: String) async throws -> Bool {
            let body = #"{"key":"\#(Base64.encode(Array(key.utf8)))","value":"\#(value)"}"#
            return try await http.raw("POST", "/v3/kv/put", body: Array(body.utf8)).status == 200
        }
        var up = false
        for _ in 0..<1000 where !up {
            up = (try? await put("/probe")) == true
            if !up { try await Task.sleep(for: .milliseconds(10)) }
        }
        guard up else { throw BenchError("etcd did not start") }
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<16 {
                group.addTask {
                    var mine: [Duration] = []
                    var i = worker
                    while i < count {
                        let t = ContinuousClock.now
                        guard try await put("/registry/services/specs/default/bench-\(i)") else {
                            throw BenchError("etcd put failed")
                        }
                        mine.append(t.duration(to: .now))
                        i += 16
                    }
                    return mine
                }
            }
            var all: [Duration] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = start.duration(to: .now)
        let rss = await settledResidentKilobytes(etcd.processIdentifier)
        return [
            (
                "etcd 3.4 (reference): put \(count) values of \(valueSize) B, 16 clients",
                String(format: "%.0f writes/s", Double(count) / seconds(elapsed)),
                "p50 \(ms(percentile(latencies, 0.5))), p99 \(ms(percentile(latencies, 0.99)))"
            ),
            ("etcd 3.4 (reference): RSS with \(count) values", "\(rss / 1024) MB", ""),
        ]
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
