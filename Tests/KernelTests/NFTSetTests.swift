import Glibc
import Kernel
import NFTables
import NetCore
import Netlink
import Processes
import PylonTestSupport
import Testing

/// nftables sets and maps built by Pylon and applied through its netfilter socket, judged by `nft list` (root).
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct NFTSetTests {
    static let table = "pylon-proxy"
    static let serviceIPs = NFTSet(
        name: "service-ips", key: [.ipv4Address, .inetProtocol, .inetService], value: .verdict)

    static func list(_ namespace: String) throws -> String {
        try ChildProcess.run("/usr/sbin/ip", ["netns", "exec", namespace, "nft", "list", "table", "ip", table])
            .standardOutput
    }

    @Test func aVerdictMapAndItsElementsReachTheKernelInOneBatch() async throws {
        try await ScratchNamespaces.run(family: "pyls") { scratch in
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0], kind: .netfilter)
            let dns = Self.serviceIPs.keyBytes([[10, 43, 0, 10], [17], [0, 53]])
            let web = Self.serviceIPs.keyBytes([[10, 43, 0, 20], [6], [0, 80]])
            let vmap = NFTRule(
                chain: "prerouting",
                expressions: [
                    .payload(base: .network, offset: 16, length: 4, register: 1), .transportProtocol(register: 9),
                    .payload(base: .transport, offset: 2, length: 2, register: 10),
                    .lookup(set: "service-ips", sourceRegister: 1, destinationRegister: 0, setID: 1),
                ])
            try socket.apply(
                [
                    .addTable(Self.table, family: .ipv4),
                    .addChain(NFTChain(name: "svc-dns"), table: Self.table, family: .ipv4),
                    .addChain(NFTChain(name: "svc-web"), table: Self.table, family: .ipv4),
                    .addSet(Self.serviceIPs, table: Self.table, family: .ipv4),
                    .addElements(
                        [
                            NFTSetElement(key: dns, verdict: .goto("svc-dns")),
                            NFTSetElement(key: web, verdict: .goto("svc-web")),
                        ], to: Self.serviceIPs, table: Self.table, family: .ipv4),
                    .addChain(
                        NFTChain(name: "prerouting", base: .init(type: "nat", hook: .prerouting, priority: -100)),
                        table: Self.table, family: .ipv4),
                    .addRule(vmap, table: Self.table, family: .ipv4),
                ], begin: .batchBegin, end: .batchEnd)
            let listed = try Self.list(scratch.names[0])
            #expect(listed.contains("type ipv4_addr . inet_proto . inet_service : verdict"), "\(listed)")
            #expect(listed.contains("10.43.0.10 . udp . 53 : goto svc-dns"), "\(listed)")
            #expect(listed.contains("10.43.0.20 . tcp . 80 : goto svc-web"), "\(listed)")
            #expect(listed.contains("ip daddr . meta l4proto . th dport vmap @service-ips"), "\(listed)")

            // One element goes, in a batch of its own; the other stays.
            try socket.apply(
                [.deleteElements([dns], from: "service-ips", table: Self.table, family: .ipv4)], begin: .batchBegin,
                end: .batchEnd)
            let after = try Self.list(scratch.names[0])
            #expect(!after.contains("10.43.0.10") && after.contains("10.43.0.20 . tcp . 80 : goto svc-web"), "\(after)")

            // Deleting it again is refused, and the whole batch with it: the element added beside it is not there.
            let extra = Self.serviceIPs.keyBytes([[10, 43, 0, 30], [6], [1, 187]])
            #expect(throws: NetlinkSocketError.self) {
                try socket.apply(
                    [
                        .addElements(
                            [NFTSetElement(key: extra, verdict: .goto("svc-web"))], to: Self.serviceIPs,
                            table: Self.table, family: .ipv4),
                        .deleteElements([dns], from: "service-ips", table: Self.table, family: .ipv4),
                    ], begin: .batchBegin, end: .batchEnd)
            }
            #expect(!(try Self.list(scratch.names[0])).contains("10.43.0.30"), "all or nothing")
        }
    }
}
