import CNI
import NFTables
import NetCore
import Netlink
import Overlay
import PylonTestKit
import Testing

/// Pylon's nftables messages against what `nft` 1.0.6 sends for the same rule text (scripts/capture-netlink), and a
/// dump of rules decoded. Pylon asks the kernel to acknowledge every message of a batch (NLM_F_ACK), `nft` does
/// not: that one flag is set aside in the comparison.
@Suite struct NFTablesGoldenTests {
    static func expect(_ request: NetlinkRequest, equals name: String) throws {
        let capture = try Capture(name)
        let sequence = try #require(try NetlinkMessage.split(capture.bytes[...]).first).sequence
        var built = request.bytes(sequence: sequence)
        built[6] &= ~UInt8(NetlinkMessage.flagAcknowledge)
        #expect(
            built == capture.bytes,
            "\(name): \(capture.notes.first ?? "")\n pylon: \(RequestGoldenTests.hex(built))\n nft:   \(RequestGoldenTests.hex(capture.bytes))"
        )
    }

    static let rules = NATRules(network: "cbr0", containerID: "pod-1")

    @Test func tablesAndChains() throws {
        try Self.expect(.addTable("pylon-cni", family: .ipv4), equals: "nft-add-table")
        try Self.expect(.addChain(NATRules.chains[0], table: NATRules.table, family: .ipv4), equals: "nft-add-chain")
        try Self.expect(.deleteChain("firewall-web", table: "pylon-proxy", family: .ipv4), equals: "nft-delete-chain")
    }

    @Test func aHostPortRuleIsWhatNftMakesOfItsText() throws {
        let all = Self.rules.rules(
            for: [(IPAddress("10.42.0.2")!, 24)],
            mappings: [PortMapping(hostPort: 8080, containerPort: 80, transport: .tcp)], masquerade: true)
        let rules = try #require(all[.ipv4])
        let hostPort = try #require(rules.first { $0.chain == "prerouting" })
        try Self.expect(.addRule(hostPort, table: NATRules.table, family: .ipv4), equals: "nft-rule-host-port")
        let masquerade = try #require(rules.last)
        try Self.expect(.addRule(masquerade, table: NATRules.table, family: .ipv4), equals: "nft-rule-masquerade")
    }

    @Test func verdictsAndDeletions() throws {
        let jump = NFTRule(
            chain: "prerouting",
            expressions: [
                .destinationAddressType(register: 1), .compare(.equal, register: 1, value: [2, 0, 0, 0]),
                .verdict(.jump("hostports")),
            ])
        try Self.expect(.addRule(jump, table: NATRules.table, family: .ipv4), equals: "nft-rule-jump")
        try Self.expect(
            .deleteRule(handle: 4, chain: "postrouting", table: NATRules.table, family: .ipv4),
            equals: "nft-delete-rule")
    }

    @Test func theOverlaysRulesAreWhatNftMakesOfFlannelsRuleText() throws {
        let rules = OverlayNATRules.rules(
            network: IPNetwork("10.42.0.0/16")!, subnet: IPNetwork("10.42.0.0/24")!, masquerade: true)
        let table = OverlayNATRules.table
        try Self.expect(.addRule(rules[0], table: table, family: .ipv4), equals: "nft-rule-mark-return")
        try Self.expect(.addRule(rules[4], table: table, family: .ipv4), equals: "nft-rule-masquerade-fully-random")
        try Self.expect(
            .addChain(OverlayNATRules.chains[1], table: table, family: .ipv4), equals: "nft-add-chain-forward")
        try Self.expect(.addRule(rules[5], table: table, family: .ipv4), equals: "nft-rule-forward-accept")
        #expect(rules.count == 7)
        #expect(
            OverlayNATRules.rules(
                network: IPNetwork("10.42.0.0/16")!, subnet: IPNetwork("10.42.0.0/24")!, masquerade: false
            )
            .map(\.chain) == ["forward", "forward"], "without FLANNEL_IPMASQ only the forward rules")
    }

    @Test func aDumpGivesEachRulesHandleAndComment() throws {
        let messages = try NetlinkMessage.split(try Capture("nft-dump-rules").bytes[...])
        let rules = try messages.filter { $0.type == NetlinkRequest.nftablesNewRule }.map {
            try NFTRule(decoding: $0.payload)
        }
        #expect(rules.map(\.handle) == [4], "the masquerading rule, the one rule of postrouting")
        #expect(rules.map(\.chain) == ["postrouting"])
        #expect(rules.map(\.comment) == ["pylon cbr0 pod-1"])
        #expect(NATRules.container(in: "pylon cbr0 pod-1", network: "cbr0") == "pod-1")
        #expect(NATRules.container(in: "pylon other pod-1", network: "cbr0") == nil)
    }

    // MARK: Sets and maps (the proxy's layout)

    static let serviceIPs = NFTSet(
        name: "service-ips", key: [.ipv4Address, .inetProtocol, .inetService], value: [.verdict])

    /// The capture without its `NFTA_SET_USERDATA` (13): `nft` keeps byte orders there for its own printing; Pylon
    /// sends none.
    static func withoutUserData(_ bytes: [UInt8]) -> [UInt8] {
        var kept = Array(bytes[0..<20])
        var offset = 20
        while offset + 4 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let type = (Int(bytes[offset + 2]) | Int(bytes[offset + 3]) << 8) & 0x3FFF
            let padded = (length + 3) & ~3
            if type != 13 { kept += bytes[offset..<min(offset + padded, bytes.count)] }
            offset += padded
        }
        kept[0] = UInt8(kept.count & 0xFF)
        kept[1] = UInt8(kept.count >> 8 & 0xFF)
        return kept
    }

    @Test func aVerdictMapOfConcatenatedKeysIsWhatNftMakes() throws {
        let capture = try Capture("nft-add-map")
        let sequence = try #require(try NetlinkMessage.split(capture.bytes[...]).first).sequence
        var built = NetlinkRequest.addSet(Self.serviceIPs, table: "pylon-proxy", family: .ipv4).bytes(
            sequence: sequence)
        built[6] &= ~UInt8(NetlinkMessage.flagAcknowledge)
        #expect(
            built == Self.withoutUserData(capture.bytes),
            "pylon: \(RequestGoldenTests.hex(built))\n nft:   \(RequestGoldenTests.hex(capture.bytes))")
    }

    @Test func elementsAndTheVmapRuleAreWhatNftMakes() throws {
        let key = Self.serviceIPs.keyBytes([[10, 43, 0, 10], [6], [0, 53]])
        #expect(key == [10, 43, 0, 10, 6, 0, 0, 0, 0, 53, 0, 0], "each field padded to whole registers")
        try Self.expect(
            .addElements(
                [NFTSetElement(key: key, verdict: .goto("svc-web"))], to: Self.serviceIPs, table: "pylon-proxy",
                family: .ipv4), equals: "nft-add-element")
        try Self.expect(
            .deleteElements([key], from: "service-ips", table: "pylon-proxy", family: .ipv4),
            equals: "nft-delete-element")
        let vmap = NFTRule(
            chain: "prerouting",
            expressions: [
                .payload(base: .network, offset: 16, length: 4, register: 1), .transportProtocol(register: 9),
                .payload(base: .transport, offset: 2, length: 2, register: 10),
                .lookup(set: "service-ips", sourceRegister: 1, destinationRegister: 0, setID: 1),
            ])
        try Self.expect(.addRule(vmap, table: "pylon-proxy", family: .ipv4), equals: "nft-rule-vmap")
    }

    static let endpoints = NFTSet(
        name: "endpoints", key: [.ipv4Address, .inetProtocol, .inetService, .integer],
        value: [.ipv4Address, .inetService])

    @Test func anEndpointMapPicksByServiceAndRandomNumberAsNftBuildsIt() throws {
        let capture = try Capture("nft-add-endpoint-map")
        let sequence = try #require(try NetlinkMessage.split(capture.bytes[...]).first).sequence
        var built = NetlinkRequest.addSet(Self.endpoints, table: "pylon-proxy", family: .ipv4).bytes(
            sequence: sequence)
        built[6] &= ~UInt8(NetlinkMessage.flagAcknowledge)
        #expect(
            built == Self.withoutUserData(capture.bytes),
            "pylon: \(RequestGoldenTests.hex(built))\n nft:   \(RequestGoldenTests.hex(capture.bytes))")
        // The random number is a host-order integer; addresses and ports are in network order.
        let element = NFTSetElement(
            key: Self.endpoints.keyBytes([[10, 43, 0, 10], [17], [0, 53], [2, 0, 0, 0]]),
            value: .data(Self.endpoints.valueBytes([[10, 42, 1, 2], [0x14, 0xE9]])))
        var set = Self.endpoints
        set.id = 2
        try Self.expect(
            .addElements([element], to: set, table: "pylon-proxy", family: .ipv4), equals: "nft-add-endpoint-element")
        let pick = NFTRule(
            chain: "pick-3",
            expressions: [
                .payload(base: .network, offset: 16, length: 4, register: 1), .transportProtocol(register: 9),
                .payload(base: .transport, offset: 2, length: 2, register: 10),
                .randomNumber(modulus: 3, register: 11),
                .lookup(set: "endpoints", sourceRegister: 1, destinationRegister: 1, setID: 1),
                .destinationNAT(family: 2, addressRegister: 1, portRegister: 9, markPortSpecified: false),
            ])
        try Self.expect(.addRule(pick, table: "pylon-pick", family: .ipv4), equals: "nft-rule-dnat-numgen-map")
    }

    @Test func anAffinityMapAndItsUpdateAreWhatNftMakes() throws {
        let capture = try Capture("nft-add-affinity-map")
        let sequence = try #require(try NetlinkMessage.split(capture.bytes[...]).first).sequence
        let map = NFTSet(
            name: "affinity-web", key: [.ipv4Address], value: [.ipv4Address, .inetService], id: 1, dynamic: true)
        var built = NetlinkRequest.addSet(map, table: "pylon-proxy", family: .ipv4).bytes(sequence: sequence)
        built[6] &= ~UInt8(NetlinkMessage.flagAcknowledge)
        #expect(
            built == Self.withoutUserData(capture.bytes),
            "pylon: \(RequestGoldenTests.hex(built))\n nft:   \(RequestGoldenTests.hex(capture.bytes))")
        let update = NFTRule(
            chain: "affinity-web-0",
            expressions: [
                .payload(base: .network, offset: 12, length: 4, register: 1),
                .immediate(register: 2, value: [10, 42, 1, 2]), .immediate(register: 13, value: [0x1F, 0x90]),
                .updateSet(set: "affinity-web", keyRegister: 1, dataRegister: 2, timeout: 10_800_000, setID: 5),
            ])
        try Self.expect(.addRule(update, table: "pylon-proxy", family: .ipv4), equals: "nft-rule-update-affinity")
    }

    @Test func thePostroutingAndFilterRulesOfTheProxyAreWhatNftMakes() throws {
        let offCluster = NFTRule(
            chain: "nat-postrouting",
            expressions: [
                .conntrackStatus(register: 1), .mask(register: 1, mask: [0x20, 0, 0, 0]),
                .compare(.notEqual, register: 1, value: [0, 0, 0, 0]),
            ] + NFTExpression.inNetwork(.source, IPNetwork("10.42.0.0/16")!, negated: true) + [.masquerade])
        try Self.expect(
            .addRule(offCluster, table: "pylon-proxy", family: .ipv4), equals: "nft-rule-masquerade-dnat-off-cluster")
        let hairpin = NFTRule(
            chain: "nat-postrouting",
            expressions: [
                .payload(base: .network, offset: 12, length: 4, register: 1),
                .payload(base: .network, offset: 16, length: 4, register: 9),
                .lookup(set: "hairpin", sourceRegister: 1, destinationRegister: nil, setID: 3), .masquerade,
            ])
        try Self.expect(.addRule(hairpin, table: "pylon-proxy", family: .ipv4), equals: "nft-rule-masquerade-hairpin")
        let reject = NFTRule(
            chain: "filter-input",
            expressions: [
                .payload(base: .network, offset: 16, length: 4, register: 1), .transportProtocol(register: 9),
                .payload(base: .transport, offset: 2, length: 2, register: 10),
                .lookup(set: "no-endpoints", sourceRegister: 1, destinationRegister: nil, setID: 4), .reject(.ipv4),
            ])
        try Self.expect(.addRule(reject, table: "pylon-proxy", family: .ipv4), equals: "nft-rule-reject-no-endpoints")
    }
}
