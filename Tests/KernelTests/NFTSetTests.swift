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
        name: "service-ips", key: [.ipv4Address, .inetProtocol, .inetService], value: [.verdict])

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

            // One element is asked for by its key; a key the map does not hold is refused with ENOENT.
            let found = try socket.dumpMessages(
                .getElement(web, from: "service-ips", table: Self.table, family: .ipv4))
            #expect(found.count == 1 && found[0].payload.count > web.count)
            let absent = Self.serviceIPs.keyBytes([[10, 43, 0, 99], [6], [0, 80]])
            #expect {
                try socket.dumpMessages(.getElement(absent, from: "service-ips", table: Self.table, family: .ipv4))
            } throws: { error in
                guard case .refused(let refusal) = error as? NetlinkSocketError else { return false }
                return refusal.code == KernelError.noEntry
            }

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

    /// The proxy's way of picking an endpoint, with real packets: a connection to a service address goes to the
    /// endpoint a map gives for the address, protocol, port and a random number below the endpoint count.
    @Test func connectionsToAServiceAddressSpreadOverTheMapsEndpoints() async throws {
        try await ScratchNamespaces.run(family: "pyls") { scratch in
            let name = scratch.names[0]
            for address in ["10.43.0.10/32", "10.42.0.2/32", "10.42.0.3/32"] {
                _ = try scratch.ip(0, "address", "add", address, "dev", "lo")
            }
            _ = try scratch.ip(0, "link", "set", "lo", "up")
            let servers = try [("one", 8081), ("two", 8082)].map { body, port in
                try BackgroundProcess(
                    "/usr/sbin/ip",
                    [
                        "netns", "exec", name, PylonBinary.path, "lab", "pod", "--node-name", body, "--port",
                        String(port),
                    ])
            }
            defer { for server in servers { server.kill() } }
            let endpoints = NFTSet(
                name: "endpoints", key: [.ipv4Address, .inetProtocol, .inetService, .integer],
                value: [.ipv4Address, .inetService])
            let elements = [([10, 42, 0, 2], 8081), ([10, 42, 0, 3], 8082)].enumerated().map { index, target in
                NFTSetElement(
                    key: endpoints.keyBytes([[10, 43, 0, 10], [6], [0, 80], [UInt8(index), 0, 0, 0]]),
                    value: .data(endpoints.valueBytes([target.0, [UInt8(target.1 >> 8), UInt8(target.1 & 0xFF)]])))
            }
            let pick = NFTRule(
                chain: "output",
                expressions: [
                    .payload(base: .network, offset: 16, length: 4, register: 1), .transportProtocol(register: 9),
                    .payload(base: .transport, offset: 2, length: 2, register: 10),
                    .randomNumber(modulus: 2, register: 11),
                    .lookup(set: "endpoints", sourceRegister: 1, destinationRegister: 1, setID: 1),
                    .destinationNAT(family: 2, addressRegister: 1, portRegister: 9, markPortSpecified: false),
                ])
            let socket = try NetlinkSocket(namespace: scratch.namespaces[0], kind: .netfilter)
            try socket.apply(
                [
                    .addTable(Self.table, family: .ipv4), .addSet(endpoints, table: Self.table, family: .ipv4),
                    .addElements(elements, to: endpoints, table: Self.table, family: .ipv4),
                    .addChain(
                        NFTChain(name: "output", base: .init(type: "nat", hook: .output, priority: -100)),
                        table: Self.table, family: .ipv4),
                    .addRule(pick, table: Self.table, family: .ipv4),
                ], begin: .batchBegin, end: .batchEnd)
            var answers: Set<String> = []
            try await eventually("connections reach both endpoints", timeout: .seconds(20)) {
                let curl = try await ChildProcess.run(
                    "/usr/sbin/ip", ["netns", "exec", name, "curl", "-s", "-m", "2", "http://10.43.0.10/"])
                if curl.succeeded { answers.insert(curl.standardOutput) }
                return answers == ["one\n", "two\n"]
            }
        }
    }
}
