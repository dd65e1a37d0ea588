import Foundation
import KubeAPI
import KubeClient
import KubeServer
import Logging
import NetCore
import Overlay
import OverlayAgent
import Processes
import PylonTestKit
import PylonTestSupport
import Testing

/// Three nodes on one LAN with `pylon overlay` against `pylon server`, a pod on each attached by the `pylon` CNI
/// plugin exactly as a runtime attaches it (the conflist and `subnet.env` the overlay wrote), and a host outside
/// the cluster on the LAN: pod-to-pod ICMP, TCP and UDP across nodes without translation, node to pod, pod to the
/// outside host masqueraded — over vxlan and host-gw, IPv4 and dual-stack. Root only; with CI=true a skip fails.
@Suite(
    .serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"), .timeLimit(.minutes(5)))
struct OverlayPodsTests {
    /// Namespaces: 0 the LAN bridge, 1–3 nodes, 4–6 their pods, 7 a host outside the cluster.
    static let outside = 7

    static func lan(_ scratch: ScratchNamespaces, ipv6: Bool) throws {
        _ = try scratch.ip(0, "link", "add", "br0", "type", "bridge")
        _ = try scratch.ip(0, "link", "set", "br0", "up")
        for (n, host) in [(1, 11), (2, 12), (3, 13), (Self.outside, 99)] {
            _ = try scratch.ip(
                0, "link", "add", "port\(n)", "type", "veth", "peer", "name", "lan0", "netns", scratch.names[n])
            _ = try scratch.ip(0, "link", "set", "port\(n)", "master", "br0", "up")
            _ = try scratch.ip(n, "address", "add", "192.0.2.\(host)/24", "dev", "lan0")
            if ipv6 { _ = try scratch.ip(n, "address", "add", "2001:db8::\(host)/64", "dev", "lan0", "nodad") }
            _ = try scratch.ip(n, "link", "set", "lan0", "up")
        }
    }

    /// Runs a one-shot echo server (`proto` tcp or udp, on port 9999 of `address`'s family) in namespace `server`
    /// and a client in `client` that tries it for up to 5 s; returns the address the server saw the client at,
    /// "" when nothing got through.
    static func echo(
        _ proto: String, to address: String, server: String, client: String
    ) async throws -> String {
        let listen = """
            import socket, sys
            family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
            kind = socket.SOCK_STREAM if sys.argv[2] == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(family, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 9999))
            s.settimeout(10)
            if kind == socket.SOCK_STREAM:
                s.listen(1)
                c, peer = s.accept()
                c.sendall(c.recv(100))
            else:
                data, peer = s.recvfrom(100)
                s.sendto(data, peer)
            print(peer[0])
            """
        let connect = """
            import socket, sys, time
            family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
            kind = socket.SOCK_STREAM if sys.argv[2] == "tcp" else socket.SOCK_DGRAM
            for _ in range(50):
                s = socket.socket(family, kind)
                s.settimeout(0.2)
                try:
                    s.connect((sys.argv[1], 9999))
                    s.send(b"pylon")
                    if s.recv(100) == b"pylon":
                        print("ok")
                        break
                except OSError:
                    time.sleep(0.1)
                finally:
                    s.close()
            """
        async let heard = ChildProcess.run(
            "/usr/sbin/ip", ["netns", "exec", server, "python3", "-c", listen, address, proto])
        let answer = try await ChildProcess.run(
            "/usr/sbin/ip", ["netns", "exec", client, "python3", "-c", connect, address, proto])
        let seen = try await heard
        #expect(answer.standardOutput.contains("ok"), "\(proto) to \(address): \(answer.standardError)")
        return seen.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func ping(from namespace: String, _ address: String) async throws -> Bool {
        try await ChildProcess.run(
            "/usr/sbin/ip",
            ["netns", "exec", namespace, "ping", address.contains(":") ? "-6" : "-4", "-c", "1", "-W", "3", address]
        ).succeeded
    }

    @Test(arguments: [("vxlan", false), ("host-gw", false), ("vxlan", true), ("host-gw", true)])
    func podsOnThreeNodesReachEachOtherAndTheOutside(backend: String, dualStack: Bool) async throws {
        try await ScratchNamespaces.run(family: "pyop", count: 8) { scratch in
            try Self.lan(scratch, ipv6: dualStack)
            let files = FileManager.default.temporaryDirectory.appendingPathComponent("pyop-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: files) }
            let conf = try NetConf(
                parsing: """
                    {"Network":"10.42.0.0/16","IPv6Network":"2001:db8:42::/56","EnableIPv6":\(dualStack),
                     "Backend":{"Type":"\(backend)"}}
                    """)
            let networks = try PodNetworks.parse(dualStack ? "10.42.0.0/16,2001:db8:42::/56" : "10.42.0.0/16")
            try await TestAPIServer.with(podNetworks: networks) { server, client in
                var agents: [Task<Void, any Error>] = []
                defer { for task in agents { task.cancel() } }
                var ready: [OverlayAgent] = []
                for n in 1...3 {
                    var addresses: [JSON] = [["type": "InternalIP", "address": .string("192.0.2.\(10 + n)")]]
                    if dualStack {
                        addresses.append(["type": "InternalIP", "address": .string("2001:db8::\(10 + n)")])
                    }
                    _ = try await client.create(
                        .nodes,
                        [
                            "apiVersion": "v1", "kind": "Node", "metadata": ["name": .string("node\(n)")],
                            "status": ["addresses": .array(addresses)],
                        ])
                    let (agent, task) = OverlayAgentTests.start(n, scratch, client, files: files, conf: conf)
                    ready.append(agent)
                    agents.append(task)
                }
                try await eventually("three overlays ready") { ready.allSatisfy(\.isReady) }
                try await eventually("every node routes to the others") {
                    for n in 1...3 {
                        let routes = try scratch.ip(n, "route", "show")
                        for other in 0..<3 where other != n - 1 {
                            guard routes.contains("10.42.\(other).0/24 via") else { return false }
                        }
                    }
                    return true
                }

                // A pod per node, attached as a runtime attaches it: the overlay's conflist, its subnet.env.
                var podIPs: [[String]] = []
                for n in 1...3 {
                    let list = try JSONParser.parse(
                        try String(contentsOfFile: "\(files)/node\(n)/net.d/10-pylon.conflist", encoding: .utf8))
                    var config = try #require(list["plugins"]?.arrayValue?.first)
                    config["cniVersion"] = list["cniVersion"]
                    config["name"] = list["name"]
                    // The overlay named its subnet.env and data directory in the entry.
                    #expect(config["subnetFile"]?.stringValue == "\(files)/node\(n)/subnet.env")
                    #expect(config["ipam"]?["dataDir"]?.stringValue == "\(files)/node\(n)/cni/networks")
                    let answer = try await CNIInvoker(plugin: PylonBinary.path, node: scratch.names[n]).run(
                        "ADD", container: "pod-\(n)", netns: "/var/run/netns/\(scratch.names[n + 3])",
                        config: String(decoding: config.serialized(), as: UTF8.self))
                    try #require(answer.status == 0, "ADD on node\(n): \(answer.output) \(answer.standardError)")
                    let ips = (answer.json?["ips"]?.arrayValue ?? []).compactMap {
                        $0["address"]?.stringValue?.split(separator: "/").first.map(String.init)
                    }
                    #expect(ips.first == "10.42.\(n - 1).2", "\(ips)")
                    if dualStack { #expect(ips.contains(IPAddress("2001:db8:42:\(n - 1)::2")!.description), "\(ips)") }
                    podIPs.append(ips)
                }

                for ips in podIPs {
                    for ip in ips {
                        // Pod on node 1 to the pod on node 2 and 3, and node 1 to each pod.
                        if ip != podIPs[0].first(where: { $0.contains(":") == ip.contains(":") }) {
                            #expect(try await Self.ping(from: scratch.names[4], ip), "pod-1 → \(ip)")
                        }
                        #expect(try await Self.ping(from: scratch.names[1], ip), "node1 → \(ip)")
                    }
                }
                for family in ["IPv4"] + (dualStack ? ["IPv6"] : []) {
                    let source = podIPs[0].first { $0.contains(":") == (family == "IPv6") }!
                    let target = podIPs[1].first { $0.contains(":") == (family == "IPv6") }!
                    // Pod to pod across nodes: TCP and UDP, the source untranslated.
                    for proto in ["tcp", "udp"] {
                        #expect(
                            try await Self.echo(proto, to: target, server: scratch.names[5], client: scratch.names[4])
                                == source, "\(family) \(proto) pod-1 → pod-2")
                    }
                    // Pod to a host outside the cluster: masqueraded to the node's address.
                    let outside = family == "IPv6" ? "2001:db8::99" : "192.0.2.99"
                    let node1 = family == "IPv6" ? "2001:db8::11" : "192.0.2.11"
                    #expect(
                        try await Self.echo(
                            "tcp", to: outside, server: scratch.names[Self.outside], client: scratch.names[4])
                            == node1, "\(family) pod-1 → outside host")
                }
                _ = server
            }
        }
    }
}
