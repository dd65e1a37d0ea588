import Foundation
import Kernel
import KubeAPI
import KubeClient
import NFTables
import NetCore
import Netlink
import Processes
import Proxy
import PylonTestSupport

extension Bench {
    /// `pylon proxy` at `count` Services × 3 endpoints (a node namespace with a server pod and a client pod in
    /// namespaces of their own, a real `pylon server`): process start until every rule is in the kernel, RSS, the
    /// time from an EndpointSlice change to its element in the kernel (100 changes, 100 ms apart), HTTP requests/s through a
    /// ClusterIP against straight to the pod (nginx, wrk); then, in the same namespace, the references: kube-proxy's
    /// nftables layout loaded by `nft -f` (whole, and one Service's endpoint change) and its iptables layout by
    /// `iptables-legacy-restore`.
    static func proxyBenchmarks(_ binary: String, count: Int, port: Int) async throws -> [(String, String, String)] {
        try await ScratchNamespaces.run(family: "pylp", count: 3) { scratch in
            // The node (0) with a server pod (1) at 10.42.0.2 and a client pod (2) at 10.42.1.2, each on a veth pair.
            let node = scratch.names[0]
            for (pod, subnet) in [(1, 0), (2, 1)] {
                _ = try scratch.ip(
                    0, "link", "add", "pod\(pod)", "type", "veth", "peer", "name", "eth0", "netns", scratch.names[pod])
                _ = try scratch.ip(0, "address", "add", "10.42.\(subnet).1/24", "dev", "pod\(pod)")
                _ = try scratch.ip(0, "link", "set", "pod\(pod)", "up")
                _ = try scratch.ip(pod, "address", "add", "10.42.\(subnet).2/24", "dev", "eth0")
                _ = try scratch.ip(pod, "link", "set", "eth0", "up")
                _ = try scratch.ip(pod, "route", "add", "default", "via", "10.42.\(subnet).1")
            }
            _ = try await ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            let work = try TemporaryDirectory(prefix: "pylon-bench-proxy")
            let (server, _) = try await startServer(binary, work.path + "/server", port)
            defer { server.terminate() }
            let kubeconfig = work.path + "/server/kubeconfig.yaml"
            var configuration = try KubeConfigLoader(environment: [:]).load(kubeconfig: kubeconfig)
            configuration.qps = 0
            let client = try KubeClient(configuration: configuration)
            defer { Task { try? await client.shutdown() } }
            _ = try await client.create(
                .nodes,
                [
                    "apiVersion": "v1", "kind": "Node", "metadata": ["name": "bench"],
                    "spec": ["podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]],
                ])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for i in stride(from: worker, to: count, by: 16) {
                            _ = try await client.create(.services, namespace: "default", proxyService("proxy-\(i)"))
                            _ = try await client.create(
                                .endpointSlices, namespace: "default",
                                proxySlice("proxy-\(i)", endpoints: (0..<3).map { endpointAddress(3 * i + $0) }))
                        }
                    }
                }
                try await group.waitForAll()
            }
            // The Service the packet path goes through: one endpoint, the pod's nginx.
            _ = try await client.create(.services, namespace: "default", proxyService("web"))
            _ = try await client.create(
                .endpointSlices, namespace: "default", proxySlice("web", endpoints: ["10.42.0.2"], port: 80))
            var clusterIPs: [String: IPAddress] = [:]
            for service in try await client.list(.services, namespace: "default")["items"]?.arrayValue ?? [] {
                if let name = service["metadata"]?["name"]?.stringValue,
                    let address = service["spec"]?["clusterIP"]?.stringValue.flatMap(IPAddress.init)
                {
                    clusterIPs[name] = address
                }
            }

            // Start to every rule in the kernel: the proxy reports ready once its first whole batch is applied.
            let metricsPort = port + 1
            let start = ContinuousClock.now
            let proxy = try BackgroundProcess(
                binary,
                [
                    "proxy", "--node-name", "bench", "--kubeconfig", kubeconfig, "--netns", "/var/run/netns/\(node)",
                    "--metrics-port", String(metricsPort), "--resync-seconds", "3600", "--log-level", "warning",
                ])
            children.append(proxy)
            defer { proxy.terminate() }
            let metrics = try KubeClient(configuration: ClientConfiguration(server: "http://127.0.0.1:\(metricsPort)"))
            defer { Task { try? await metrics.shutdown() } }
            var toReady: Duration?
            while start.duration(to: .now) < .seconds(120) {
                if (try? await metrics.raw("GET", "/readyz").status) == 200 {
                    toReady = start.duration(to: .now)
                    break
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            guard let toReady else {
                throw BenchError("pylon proxy was not ready in 120 s: \(proxy.text.suffix(2000))")
            }
            let exposition = String(decoding: try await metrics.raw("GET", "/metrics").body, as: UTF8.self)
            let programmed = exposition.split(separator: "\n").first { $0.hasPrefix("pylon_proxy_endpoints ") }
            guard let programmed, let endpoints = Double(programmed.split(separator: " ").last ?? ""),
                Int(endpoints) >= 3 * count + 1
            else {
                throw BenchError("pylon proxy programmed \(programmed ?? "nothing"), not \(3 * count + 1) endpoints")
            }

            // One endpoint added to one Service's slice, 100 times, 100 ms apart (a quiet cluster), once the start has
            // settled (5 s): until the element (its index 3) is in the kernel. The first change, not counted, makes
            // the proxy create its pick chain for 4 endpoints.
            try await Task.sleep(for: .seconds(5))
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0], kind: .netfilter)
            let maps = ProxyMaps(family: .ipv4)
            var fromCall: [Duration] = []
            var fromReturn: [Duration] = []
            var first = Duration.zero
            for k in 0...100 {
                let name = "proxy-\(k * 97 % count)"
                guard let address = clusterIPs[name] else { throw BenchError("\(name) has no cluster IP") }
                let key = maps.endpoints.keyBytes([
                    address.bytes, [6], [0, 80], withUnsafeBytes(of: UInt32(3)) { Array($0) },
                ])
                let base = (0..<3).map { endpointAddress(3 * (k * 97 % count) + $0) }
                try await Task.sleep(for: .milliseconds(100))
                let called = ContinuousClock.now
                _ = try await client.patch(
                    .endpointSlices, namespace: "default", name: name,
                    ["endpoints": proxySlice(name, endpoints: base + ["10.46.0.\(k + 1)"])["endpoints"]!])
                let returned = ContinuousClock.now
                var present = false
                while !present, returned.duration(to: .now) < .seconds(10) {
                    let lookup = Result { () throws(NetlinkSocketError) in
                        try socket.dumpMessages(
                            .getElement(key, from: maps.endpoints.name, table: ProxyMaps.table, family: .ipv4))
                    }
                    switch lookup {
                    case .success(let answers): present = !answers.isEmpty
                    case .failure(.refused(let refusal)) where refusal.code == KernelError.noEntry:
                        usleep(100)  // a blocking sleep: precise to 0.1 ms, unlike a timer of the async runtime
                    case .failure(let error): throw error
                    }
                }
                guard present else { throw BenchError("the endpoint added to \(name) did not reach the kernel") }
                if k == 0 {
                    first = returned.duration(to: .now)
                } else {
                    fromCall.append(called.duration(to: .now))
                    fromReturn.append(returned.duration(to: .now))
                }
            }

            // Memory once the proxy is quiet again after the changes.
            let rss = await settledResidentKilobytes(proxy.processIdentifier)

            // The packet path: nginx in one pod, wrk in another, straight and through the ClusterIP.
            guard let web = clusterIPs["web"] else { throw BenchError("web has no cluster IP") }
            let (direct, throughService) = try await requestRates(scratch, work.path, service: web)
            proxy.terminate()
            _ = try await ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", node, "nft", "delete", "table", "ip", "pylon-proxy"])

            let references = try await kubeProxyReferences(scratch, work.path, count: count)
            return [
                (
                    "proxy: `pylon proxy` start to \(count) Services × 3 endpoints in the kernel", ms(toReady),
                    "from process start (API list included); goal < 1000 ms"
                ),
                references[0], references[1],
                (
                    "proxy: one endpoint change → element in the kernel (\(count) Services, 100 changes)",
                    "p99 \(ms(percentile(fromReturn, 0.99)))",
                    "p50 \(ms(percentile(fromReturn, 0.5))) from the PATCH's return; from the call p50 "
                        + "\(ms(percentile(fromCall, 0.5))), p99 \(ms(percentile(fromCall, 0.99))); first change "
                        + "(creates the 4-endpoint pick chain) \(ms(first)) (goal < 5 ms p99)"
                ),
                references[2],
                ("proxy: RSS of `pylon proxy` with \(count) Services", "\(rss / 1024) MB", "goal < 40 MB"),
                (
                    "proxy: HTTP through a ClusterIP vs straight to the pod",
                    String(format: "%.2f×", throughService / direct),
                    String(
                        format: "%.0f vs %.0f req/s, wrk -t2 -c64 -d5s, nginx 1 worker (goal ≥ 0.95×)", throughService,
                        direct)
                ),
            ]
        }
    }

    static func proxyService(_ name: String) -> JSON {
        [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)],
            "spec": ["ports": [["name": "http", "port": 80, "protocol": "TCP"]]],
        ]
    }

    static func proxySlice(_ service: String, endpoints: [String], port: Int64 = 8080) -> JSON {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": ["name": .string(service), "labels": ["kubernetes.io/service-name": .string(service)]],
            "addressType": "IPv4",
            "endpoints": .array(endpoints.map { ["addresses": [.string($0)], "conditions": ["ready": true]] }),
            "ports": [["name": "http", "port": .int(port), "protocol": "TCP"]],
        ]
    }

    /// Endpoint `j` of the benchmark's Services: 10.45.0.0/16 and on.
    static func endpointAddress(_ j: Int) -> String { "10.\(45 + j / 65_536).\(j / 256 % 256).\(j % 256)" }

    /// Requests/s of wrk in the client pod over kept-alive connections to nginx in the server pod, straight and
    /// through `service` (both forwarded by the node): the best of two 5-second runs each, alternating.
    static func requestRates(_ scratch: ScratchNamespaces, _ directory: String, service: IPAddress) async throws -> (
        Double, Double
    ) {
        let configuration = directory + "/nginx.conf"
        try """
        worker_processes 1;
        daemon off;
        pid \(directory)/nginx.pid;
        error_log \(directory)/nginx.log;
        events { worker_connections 1024; }
        http {
            access_log off;
            server { listen 10.42.0.2:80; location / { return 200 "ok\\n"; } }
        }
        """.write(toFile: configuration, atomically: true, encoding: .utf8)
        let nginx = try BackgroundProcess(
            "/usr/sbin/ip", ["netns", "exec", scratch.names[1], "nginx", "-c", configuration, "-p", directory])
        children.append(nginx)
        defer { nginx.terminate() }
        func rate(_ address: String, seconds: Int) async throws -> Double {
            let run = try await ChildProcess.run(
                "/usr/sbin/ip",
                ["netns", "exec", scratch.names[2], "wrk", "-t2", "-c64", "-d\(seconds)s", "http://\(address)/"])
            guard let line = run.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
                let value = Double(line.split(separator: " ").last ?? ""),
                !run.standardOutput.contains("Non-2xx"), !run.standardOutput.contains("Socket errors")
            else { throw BenchError("wrk to \(address) failed: \(run.standardOutput) \(run.standardError)") }
            return value
        }
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await rate("10.42.0.2", seconds: 1)) != nil
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard up else { throw BenchError("nginx in the pod did not answer") }
        var direct = 0.0
        var throughService = 0.0
        for _ in 0..<2 {
            direct = max(direct, try await rate("10.42.0.2", seconds: 5))
            throughService = max(throughService, try await rate(service.description, seconds: 5))
        }
        return (direct, throughService)
    }
}
