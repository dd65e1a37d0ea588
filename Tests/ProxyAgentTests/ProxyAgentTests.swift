import Foundation
import Kernel
import KubeAPI
import KubeClient
import Logging
import NetCore
import Processes
import ProxyAgent
import PylonTestKit
import PylonTestSupport
import Testing

/// `pylon proxy`'s agent in a node's network namespace against a real `pylon server`: two demo servers stand for
/// the endpoints (on the node's own addresses 10.42.0.2 and 10.42.0.3), curl in the node is the client. Root only;
/// with CI=true a skip fails the run.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"), .timeLimit(.minutes(3)))
struct ProxyAgentTests {
    static func curl(_ namespace: String, _ url: String) async throws -> ProcessOutput {
        try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", namespace, "curl", "-s", "-m", "2", url])
    }

    /// A proxy agent for node `node1` (IPv4, cluster CIDR 10.42.0.0/16) in `namespace`, running until its task is
    /// cancelled.
    static func start(_ client: KubeClient, in namespace: NetworkNamespace, resync: Duration) -> (
        agent: ProxyAgent, task: Task<Void, any Error>
    ) {
        var logger = Logger(label: "test.proxy")
        logger.logLevel = .warning
        let agent = ProxyAgent(
            client: client,
            options: .init(
                nodeName: "node1", clusterCIDRs: [IPNetwork("10.42.0.0/16")!], families: [.ipv4],
                resyncInterval: resync, namespace: namespace),
            logger: logger)
        return (agent, Task { try await agent.run() })
    }

    /// Two demo servers in the node of `scratch`: "one" on 10.42.0.2:8081 and "two" on 10.42.0.3:8082 (the
    /// addresses on its loopback). The caller kills them.
    static func twoEndpoints(_ scratch: ScratchNamespaces) throws -> [BackgroundProcess] {
        for address in ["10.42.0.2/32", "10.42.0.3/32"] {
            _ = try scratch.ip(0, "address", "add", address, "dev", "lo")
        }
        return try [("one", 8081), ("two", 8082)].map { body, port in
            try BackgroundProcess(
                "/usr/sbin/ip",
                [
                    "netns", "exec", scratch.names[0], PylonBinary.path, "lab", "pod", "--node-name", body, "--port",
                    String(port),
                ])
        }
    }

    /// Makes Service `web`'s cluster address local to the node of `scratch` (a route would do; the test has no other
    /// host) and publishes the two endpoints of `twoEndpoints`, each in a slice of its own (different ports).
    static func publishTwoEndpoints(_ client: KubeClient, _ scratch: ScratchNamespaces, clusterIP: String) async throws
    {
        _ = try scratch.ip(0, "address", "add", "\(clusterIP)/32", "dev", "lo")
        _ = try await client.create(
            .endpointSlices, namespace: "default", slice("web-1", [("10.42.0.2", 8081, true)]))
        _ = try await client.create(
            .endpointSlices, namespace: "default", slice("web-2", [("10.42.0.3", 8082, true)]))
    }

    /// A slice of Service `web` named `name`, with its endpoints (address, port, ready).
    static func slice(_ name: String, _ endpoints: [(String, Int, Bool)]) -> JSON {
        [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": [
                "name": .string(name), "namespace": "default", "labels": ["kubernetes.io/service-name": "web"],
            ],
            "endpoints": .array(
                endpoints.map {
                    ["addresses": [.string($0.0)], "conditions": ["ready": .bool($0.2)], "nodeName": "node1"]
                }),
            "ports": .array(
                endpoints.first.map { [["name": "http", "port": .int(Int64($0.1)), "protocol": "TCP"]] } ?? []),
        ]
    }

    @Test func aClusterIPSpreadsOverItsEndpointsFollowsThemAndRejectsWithoutAny() async throws {
        try await ScratchNamespaces.run(family: "pylp") { scratch in
            try await TestAPIServer.with { _, client in
                let node = scratch.names[0]
                _ = try scratch.ip(0, "link", "set", "lo", "up")
                let servers = try Self.twoEndpoints(scratch)
                defer { for server in servers { server.kill() } }
                let service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": ["ports": [["name": "http", "port": 80, "targetPort": 8081]]],
                    ])
                let clusterIP = try #require(service["spec"]?["clusterIP"]?.stringValue)
                try await Self.publishTwoEndpoints(client, scratch, clusterIP: clusterIP)

                let (_, task) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(1))
                defer { task.cancel() }

                var answers: Set<String> = []
                try await eventually("the cluster address answers from both endpoints") {
                    let curl = try await Self.curl(node, "http://\(clusterIP)/")
                    if curl.succeeded { answers.insert(curl.standardOutput) }
                    return answers == ["one\n", "two\n"]
                }
                let listed = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", node, "nft", "list", "table", "ip", "pylon-proxy"])
                #expect(
                    listed.standardOutput.contains("elements = { \(clusterIP) . tcp . 80 }")
                        && listed.standardOutput.contains(
                            "ip daddr . meta l4proto . th dport @service-ips-2 goto pick-2"),
                    "\(listed.standardOutput)\(listed.standardError)")

                // One endpoint goes: the other takes every connection.
                try await client.delete(.endpointSlices, namespace: "default", name: "web-2")
                try await eventually("only the remaining endpoint answers") {
                    for _ in 0..<6 {
                        guard try await Self.curl(node, "http://\(clusterIP)/").standardOutput == "one\n" else {
                            return false
                        }
                    }
                    return true
                }

                // No endpoint: refused at once (an ICMP port unreachable), not a timeout.
                try await client.update(
                    .endpointSlices,
                    try await client.get(.endpointSlices, namespace: "default", name: "web-1").merging(
                        Self.slice("web-1", [])))
                try await eventually("connections are refused") {
                    let refused = try await Self.curl(node, "http://\(clusterIP)/")
                    return refused.status == 7
                }

                // Rules flushed by hand come back with the next whole rebuild.
                try await client.update(
                    .endpointSlices,
                    try await client.get(.endpointSlices, namespace: "default", name: "web-1").merging(
                        Self.slice("web-1", [("10.42.0.2", 8081, true)])))
                try await eventually("answers again") {
                    try await Self.curl(node, "http://\(clusterIP)/").standardOutput == "one\n"
                }
                _ = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", node, "nft", "delete", "table", "ip", "pylon-proxy"])
                try await eventually("the table is rebuilt", timeout: .seconds(10)) {
                    try await Self.curl(node, "http://\(clusterIP)/").standardOutput == "one\n"
                }
            }
        }
    }
    /// `sessionAffinity: ClientIP`: every connection of a client goes to the endpoint its first one got; when that
    /// endpoint goes, the client is given another and sticks to it.
    @Test func clientIPAffinitySticksAndMovesWhenItsEndpointGoes() async throws {
        try await ScratchNamespaces.run(family: "pylp") { scratch in
            try await TestAPIServer.with { _, client in
                let node = scratch.names[0]
                let servers = try Self.twoEndpoints(scratch)
                defer { for server in servers { server.kill() } }
                let service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": [
                            "sessionAffinity": "ClientIP",
                            "sessionAffinityConfig": ["clientIP": ["timeoutSeconds": 600]],
                            "ports": [["name": "http", "port": 80, "targetPort": 8081]],
                        ],
                    ])
                let clusterIP = try #require(service["spec"]?["clusterIP"]?.stringValue)
                try await Self.publishTwoEndpoints(client, scratch, clusterIP: clusterIP)
                let (_, task) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(30))
                defer { task.cancel() }

                var first = ""
                try await eventually("the cluster address answers") {
                    first = try await Self.curl(node, "http://\(clusterIP)/").standardOutput
                    return first == "one\n" || first == "two\n"
                }
                for _ in 0..<10 {
                    #expect(try await Self.curl(node, "http://\(clusterIP)/").standardOutput == first)
                }
                let listed = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", node, "nft", "list", "table", "ip", "pylon-proxy"])
                #expect(
                    listed.standardOutput.contains("timeout 10m"), "\(listed.standardOutput) \(listed.standardError)")

                // Its endpoint goes: the client moves to the other one and stays there.
                try await client.delete(
                    .endpointSlices, namespace: "default", name: first == "one\n" ? "web-1" : "web-2")
                let other = first == "one\n" ? "two\n" : "one\n"
                try await eventually("the client gets the remaining endpoint") {
                    try await Self.curl(node, "http://\(clusterIP)/").standardOutput == other
                }
                for _ in 0..<5 {
                    #expect(try await Self.curl(node, "http://\(clusterIP)/").standardOutput == other)
                }
            }
        }
    }

    /// A UDP client keeps sending from one port to a Service whose endpoint is replaced: its flow's conntrack entry
    /// (translated to the endpoint that left) is removed, so the next datagram goes to the new endpoint instead of
    /// sticking to the old one for as long as the client keeps talking.
    @Test func aDeletedEndpointsUDPFlowsMoveOn() async throws {
        try await ScratchNamespaces.run(family: "pylp") { scratch in
            try await TestAPIServer.with { _, client in
                let node = scratch.names[0]
                let work = try TemporaryDirectory(prefix: "pylon-proxy-udp")
                for address in ["10.42.0.2/32", "10.42.0.3/32"] {
                    _ = try scratch.ip(0, "address", "add", address, "dev", "lo")
                }
                let echoes = try [("one", "10.42.0.2"), ("two", "10.42.0.3")].map { name, address in
                    try BackgroundProcess(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", node, "python3", "-c",
                            """
                            import socket
                            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("\(address)", 9000))
                            while True:
                                _, peer = s.recvfrom(100); s.sendto(b"\(name)", peer)
                            """,
                        ])
                }
                defer { for echo in echoes { echo.kill() } }
                let service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": ["ports": [["name": "dns", "port": 53, "protocol": "UDP", "targetPort": 9000]]],
                    ])
                let clusterIP = try #require(service["spec"]?["clusterIP"]?.stringValue)
                _ = try scratch.ip(0, "address", "add", "\(clusterIP)/32", "dev", "lo")
                func slice(_ address: String) -> JSON {
                    [
                        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": [
                            "name": "web-1", "namespace": "default", "labels": ["kubernetes.io/service-name": "web"],
                        ],
                        "endpoints": [["addresses": [.string(address)], "conditions": ["ready": true]]],
                        "ports": [["name": "dns", "port": 9000, "protocol": "UDP"]],
                    ]
                }
                _ = try await client.create(.endpointSlices, namespace: "default", slice("10.42.0.2"))
                let (_, task) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(30))
                defer { task.cancel() }

                // One client port, a datagram every 50 ms (for at most 60 s, or until told to stop).
                let stop = work.path + "/stop"
                let talker = try BackgroundProcess(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", node, "python3", "-c",
                        """
                        import os, socket, time
                        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("0.0.0.0", 40000))
                        c.settimeout(0.05)
                        end = time.monotonic() + 60
                        while time.monotonic() < end and not os.path.exists("\(stop)"):
                            c.sendto(b"?", ("\(clusterIP)", 53))
                            try: print(c.recv(100).decode(), flush=True)
                            except socket.timeout: pass
                            time.sleep(0.05)
                        """,
                    ])
                defer { talker.kill() }
                try await eventually("the flow reaches the first endpoint") { talker.text.contains("one") }
                let before = talker.text.count
                var moved = try await client.get(.endpointSlices, namespace: "default", name: "web-1")
                moved["endpoints"] = slice("10.42.0.3")["endpoints"]
                _ = try await client.update(.endpointSlices, moved)
                try await eventually("the same flow reaches the new endpoint") {
                    talker.text.dropFirst(before).contains("two")
                }
                FileManager.default.createFile(atPath: stop, contents: Data())
            }
        }
    }

    /// From a client host on the node's LAN: a NodePort on the node's address and a load balancer address it holds
    /// reach the node's endpoint with the client's own address (externalTrafficPolicy Local), and a node without a
    /// local endpoint drops them.
    @Test func nodePortsAndLoadBalancerAddressesKeepTheClientsAddressUnderLocalPolicy() async throws {
        try await ScratchNamespaces.run(family: "pylp", count: 2) { scratch in
            try await TestAPIServer.with { _, client in
                let (node, outside) = (scratch.names[0], scratch.names[1])
                _ = try scratch.ip(0, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", outside)
                _ = try scratch.ip(0, "address", "add", "192.0.2.10/24", "dev", "eth0")
                _ = try scratch.ip(0, "address", "add", "192.0.2.100/32", "dev", "eth0")
                _ = try scratch.ip(1, "address", "add", "192.0.2.20/24", "dev", "eth0")
                for n in 0...1 {
                    _ = try scratch.ip(n, "link", "set", "eth0", "up")
                    _ = try scratch.ip(n, "link", "set", "lo", "up")
                }
                _ = try scratch.ip(0, "address", "add", "10.42.0.2/32", "dev", "lo")
                let server = try BackgroundProcess(
                    "/usr/sbin/ip",
                    ["netns", "exec", node, PylonBinary.path, "lab", "pod", "--node-name", "node1", "--port", "8081"])
                defer { server.kill() }
                // The Node gets 10.42.0.0/24 from the server: its own pods.
                _ = try await client.create(
                    .nodes, ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "node1"]])
                var service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": [
                            "type": "LoadBalancer", "externalTrafficPolicy": "Local",
                            "ports": [["name": "http", "port": 80, "targetPort": 8081]],
                        ],
                    ])
                let nodePort = try #require(service["spec"]?["ports"]?.arrayValue?.first?["nodePort"]?.intValue)
                let healthPort = try #require(service["spec"]?["healthCheckNodePort"]?.intValue)
                service["status"] = ["loadBalancer": ["ingress": [["ip": "192.0.2.100"]]]]
                _ = try await client.updateStatus(.services, service)
                var slice = Self.slice("web-1", [("10.42.0.2", 8081, true)])
                slice[path: ["endpoints"]] = [
                    ["addresses": ["10.42.0.2"], "conditions": ["ready": true], "nodeName": "node1"]
                ]
                _ = try await client.create(.endpointSlices, namespace: "default", slice)

                let (_, task) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(1))
                defer { task.cancel() }
                for url in ["http://192.0.2.10:\(nodePort)/", "http://192.0.2.100/"] {
                    try await eventually("\(url) answers with the client's address") {
                        let answer = try await ChildProcess.run(
                            "/usr/sbin/ip", ["netns", "exec", outside, "curl", "-s", "-i", "-m", "2", url])
                        return answer.standardOutput.contains("X-Client-Address: ::ffff:192.0.2.20")
                            && answer.standardOutput.hasSuffix("node1\n")
                    }
                }

                // loadBalancerSourceRanges: another source range blocks the client at the load balancer address (its
                // node port stays open); its own range lets it through again.
                func throughLoadBalancer() async throws -> ProcessOutput {
                    try await ChildProcess.run(
                        "/usr/sbin/ip", ["netns", "exec", outside, "curl", "-s", "-m", "1", "http://192.0.2.100/"])
                }
                _ = try await client.patch(
                    .services, namespace: "default", name: "web",
                    ["spec": ["loadBalancerSourceRanges": ["198.51.100.0/24"]]])
                try await eventually("another source range blocks the client") {
                    try await throughLoadBalancer().status == 28
                }
                let nodePortOpen = try await ChildProcess.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", outside, "curl", "-s", "-m", "2", "http://192.0.2.10:\(nodePort)/"])
                #expect(nodePortOpen.standardOutput == "node1\n", "\(nodePortOpen)")
                _ = try await client.patch(
                    .services, namespace: "default", name: "web",
                    ["spec": ["loadBalancerSourceRanges": ["198.51.100.0/24", "192.0.2.16/28"]]])
                try await eventually("the client's own range lets it through") {
                    try await throughLoadBalancer().standardOutput == "node1\n"
                }

                // The health check node port says this node has the Service's endpoint, as kube-proxy does.
                func health() async throws -> String {
                    try await ChildProcess.run(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", outside, "curl", "-s", "-i", "-m", "2",
                            "http://192.0.2.10:\(healthPort)/healthz",
                        ]
                    ).standardOutput
                }
                try await eventually("the health check node port answers 200 with one local endpoint") {
                    let answer = try await health()
                    return answer.hasPrefix("HTTP/1.1 200") && answer.contains("X-Load-Balancing-Endpoint-Weight: 1")
                        && answer.contains(#""namespace": "default","#) && answer.contains(#""name": "web""#)
                        && answer.contains(#""localEndpoints": 1,"#)
                }

                // The endpoint moves to another node: this one drops external traffic (the client times out).
                var moved = try await client.get(.endpointSlices, namespace: "default", name: "web-1")
                moved["endpoints"] = [["addresses": ["10.42.1.2"], "conditions": ["ready": true], "nodeName": "node2"]]
                _ = try await client.update(.endpointSlices, moved)
                try await eventually("the node drops the load balancer address's traffic") {
                    let listed = try await ChildProcess.run(
                        "/usr/sbin/ip",
                        ["netns", "exec", node, "nft", "list", "set", "ip", "pylon-proxy", "service-ips-drop"])
                    return listed.standardOutput.contains("192.0.2.100 . tcp . 80")
                }
                let dropped = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", outside, "curl", "-s", "-m", "1", "http://192.0.2.100/"])
                #expect(dropped.status == 28, "a timeout, not an answer or a refusal: \(dropped)")
                try await eventually("the health check node port answers 503 with no local endpoint") {
                    let answer = try await health()
                    return answer.hasPrefix("HTTP/1.1 503") && answer.contains(#""localEndpoints": 0,"#)
                }
            }
        }
    }

    /// The real `pylon proxy` process: a dual-stack Service reaches its endpoint over IPv4 and IPv6, while a
    /// Service whose external IP is not an address and a slice endpoint with a garbage address are skipped, each
    /// with a log line and a count in `pylon_proxy_skipped_total` (kube-apiserver would refuse both; `pylon server`
    /// does not check them yet), and everything else keeps working.
    @Test func badInputIsSkippedWithALogLineAndAMetricWhileBothFamiliesWork() async throws {
        try await ScratchNamespaces.run(family: "pylp") { scratch in
            try await TestAPIServer.with { server, client in
                let node = scratch.names[0]
                for address in ["10.42.0.2/32", "2001:db8:42::2/128"] {
                    _ = try scratch.ip(0, "address", "add", address, "dev", "lo")
                }
                let pod = try BackgroundProcess(
                    "/usr/sbin/ip",
                    ["netns", "exec", node, PylonBinary.path, "lab", "pod", "--node-name", "one", "--port", "8081"])
                defer { pod.kill() }
                let service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": [
                            "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                            "ports": [["name": "http", "port": 80, "targetPort": 8081]],
                        ],
                    ])
                let clusterIPs = (service["spec"]?["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
                try #require(clusterIPs.count == 2, "\(service)")
                for address in clusterIPs {
                    _ = try scratch.ip(
                        0, "address", "add", address + (address.contains(":") ? "/128" : "/32"), "dev", "lo")
                }
                _ = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "bad"],
                        "spec": ["externalIPs": ["not-an-ip"], "ports": [["name": "http", "port": 80]]],
                    ])
                var v4 = Self.slice("web-v4", [("10.42.0.2", 8081, true)])
                v4["endpoints"] = .array(
                    (v4["endpoints"]?.arrayValue ?? []) + [["addresses": ["garbage"], "conditions": ["ready": true]]])
                _ = try await client.create(.endpointSlices, namespace: "default", v4)
                var v6 = Self.slice("web-v6", [("2001:db8:42::2", 8081, true)])
                v6["addressType"] = "IPv6"
                _ = try await client.create(.endpointSlices, namespace: "default", v6)

                let metricsPort = try await PylonBinary.freePort()
                let proxy = try BackgroundProcess(
                    PylonBinary.path,
                    [
                        "proxy", "--node-name", "node1", "--kubeconfig", server.kubeconfig, "--netns",
                        "/var/run/netns/\(node)", "--cluster-cidr", "10.42.0.0/16,2001:db8:42::/56", "--metrics-port",
                        String(metricsPort),
                    ])
                defer { proxy.terminate() }
                for address in clusterIPs {
                    let url = address.contains(":") ? "http://[\(address)]/" : "http://\(address)/"
                    try await eventually("\(url) answers from the endpoint") {
                        try await Self.curl(node, url).standardOutput == "one\n"
                    }
                }
                try await eventually("both problems are logged") {
                    proxy.text.contains("skipped: default/bad: externalIP not-an-ip is not an IP address")
                        && proxy.text.contains("skipped: default/web-v4: endpoint address")
                }
                let metrics = try await ChildProcess.run(
                    "curl", ["-s", "-m", "2", "http://127.0.0.1:\(metricsPort)/metrics"])
                #expect(
                    metrics.standardOutput.contains(#"pylon_proxy_skipped_total{reason="bad_address"} 1"#)
                        && metrics.standardOutput.contains(#"pylon_proxy_skipped_total{reason="bad_endpoint"} 1"#),
                    "\(metrics.standardOutput)")
            }
        }
    }

    /// An established TCP connection through a cluster address survives the proxy's restart (its first pass
    /// replaces the whole table): the kernel's connection tracking keeps the translation.
    @Test func aRestartUnderTrafficKeepsEstablishedConnections() async throws {
        try await ScratchNamespaces.run(family: "pylp") { scratch in
            try await TestAPIServer.with { _, client in
                let node = scratch.names[0]
                let work = try TemporaryDirectory(prefix: "pylon-proxy-restart")
                _ = try scratch.ip(0, "link", "set", "lo", "up")
                _ = try scratch.ip(0, "address", "add", "10.42.0.2/32", "dev", "lo")
                let echo = try BackgroundProcess(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", node, "python3", "-c",
                        """
                        import socket, threading
                        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind(("10.42.0.2", 9000)); s.listen()
                        def serve(c):
                            while (data := c.recv(100)): c.sendall(data)
                        while True:
                            c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
                        """,
                    ])
                defer { echo.kill() }
                let service = try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                        "spec": ["ports": [["name": "http", "port": 90, "targetPort": 9000]]],
                    ])
                let clusterIP = try #require(service["spec"]?["clusterIP"]?.stringValue)
                _ = try scratch.ip(0, "address", "add", "\(clusterIP)/32", "dev", "lo")
                _ = try await client.create(
                    .endpointSlices, namespace: "default", Self.slice("web-1", [("10.42.0.2", 9000, true)]))
                let (first, firstTask) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(30))
                try await eventually("the proxy programmed its table") { first.isReady }

                // A client keeps one connection open: one message before the restart, one after.
                let trigger = work.path + "/go"
                let talker = try BackgroundProcess(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", node, "python3", "-c",
                        """
                        import os, socket, time
                        c = socket.create_connection(("\(clusterIP)", 90), timeout=5)
                        c.sendall(b"before"); print(c.recv(100).decode(), flush=True)
                        for _ in range(300):
                            if os.path.exists("\(trigger)"): break
                            time.sleep(0.1)
                        c.sendall(b"after"); print(c.recv(100).decode(), flush=True)
                        """,
                    ])
                defer { talker.kill() }
                try await eventually("the first message is echoed") { talker.text.contains("before") }
                firstTask.cancel()
                _ = try? await firstTask.value
                let (second, secondTask) = Self.start(client, in: scratch.namespaces[0], resync: .seconds(30))
                defer { secondTask.cancel() }
                try await eventually("the restarted proxy rebuilt its table") { second.isReady }
                FileManager.default.createFile(atPath: trigger, contents: Data())
                try await eventually("the same connection still carries the second message") {
                    talker.text.contains("after")
                }
                #expect(talker.termination == nil || talker.termination == .exited(0), "\(talker.text)")
            }
        }
    }
}

extension JSON {
    /// The object with `other`'s endpoints and ports (an update keeping metadata and resourceVersion).
    fileprivate func merging(_ other: JSON) -> JSON {
        var merged = self
        merged["endpoints"] = other["endpoints"]
        merged["ports"] = other["ports"]
        return merged
    }
}
