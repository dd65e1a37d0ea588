import Foundation
import Lab
import LabRuntime
import NetCore
import Testing

/// Builds a real lab LAN in network namespaces (root only; CI runs it) and checks that hosts reach each other at
/// layer 2 and that nothing is left behind.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct LabNetworkTests {
    static let family = "pylt"

    @Test func hostsShareOneSegmentAndTheLabLeavesNothingBehind() throws {
        LabNetwork.sweep(prefixFamily: Self.family, olderThan: 3600)
        let prefix = "\(Self.family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: ["node-1", "client"]))
        defer { lab.down() }
        try lab.up()
        #expect(Set(LabNetwork.namespaces()).isSuperset(of: lab.topology.namespaces))

        let addresses = try lab.exec("node-1", ["ip", "-br", "addr", "show", "dev", "eth0"]).output
        #expect(addresses.contains("192.0.2.10/24") && addresses.contains("2001:db8::a/64"), "\(addresses)")
        let routes = try lab.exec("client", ["ip", "route", "show", "default"]).output
        #expect(routes.isEmpty, "no default route: \(routes)")

        // Layer 2 works: a UDP datagram from the client to node-1 makes the client's kernel resolve node-1's MAC.
        let node1MAC = try lab.exec("node-1", ["cat", "/sys/class/net/eth0/address"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try lab.exec(
            "client",
            [
                "python3", "-c",
                "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('192.0.2.10', 9))",
            ])
        var resolved = ""
        for _ in 0..<100 {
            resolved = try lab.exec("client", ["ip", "neigh", "show", "192.0.2.10"]).output
            if resolved.contains(node1MAC) { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(resolved.contains("lladdr \(node1MAC)"), "client resolved node-1: \(resolved)")

        lab.down()
        #expect(Set(LabNetwork.namespaces()).isDisjoint(with: lab.topology.namespaces), "all namespaces removed")
    }

    @Test func aFailedSetUpRemovesWhatItCreated() throws {
        let prefix = "\(Self.family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        // `ip` refuses an interface name with a slash, half-way through the set-up.
        let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: ["ok", "bad/name"]))
        defer { lab.down() }
        #expect(throws: LabNetwork.Failure.self) { try lab.up() }
        #expect(Set(LabNetwork.namespaces()).isDisjoint(with: lab.topology.namespaces), "rolled back")
    }
}
