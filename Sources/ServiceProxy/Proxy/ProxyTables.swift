import NFTables
import NetCore
import Netlink

/// The proxy's table in one family, whole (pure): its maps and sets (`ProxyMaps`), the chains and their rules —
/// nat prerouting and output send every packet through `services`, which finds its destination in the
/// `service-ips-N` set of its Service's endpoint count (or, on the node's own addresses but loopback, its port in
/// `node-ports-N`) and goes to that count's pick chain; a pick chain translates to the endpoint the `endpoints` map holds for the destination and
/// a random number below the count; nat postrouting masquerades translated connections from outside the cluster
/// CIDRs to endpoints on other nodes, and a pod reaching itself through its Service; filter chains before the conntrack-based ones reject what
/// `no-endpoints` holds.
public enum ProxyTables {
    /// Registers, 4-byte units (`NFT_REG32_00` is 8): the address takes one (IPv4) or four (IPv6).
    struct Registers {
        let address: UInt32 = 1
        let afterAddress: UInt32
        init(_ family: IPFamily) { afterAddress = family == .ipv4 ? 9 : 12 }
    }

    /// Requests that replace the table (atomically, in one batch) with an empty one holding every chain and rule,
    /// pick chains for `pickCounts`; the maps' elements come after (`ProxyPlan.elementChanges` from an empty plan).
    public static func fresh(
        maps: ProxyMaps, clusterCIDRs: [IPNetwork], nodePodCIDRs: [IPNetwork], pickCounts: Set<Int>
    ) -> [NetlinkRequest] {
        let family = NFTFamily(maps.family)
        let table = ProxyMaps.table
        var requests: [NetlinkRequest] = [
            .addTable(table, family: family), .deleteTable(table, family: family), .addTable(table, family: family),
        ]
        requests += maps.all.map { .addSet($0, table: table, family: family) }
        for chain in chains {
            requests.append(.addChain(chain, table: table, family: family))
        }
        for rule in rules(maps: maps, clusterCIDRs: clusterCIDRs, nodePodCIDRs: nodePodCIDRs) {
            requests.append(.addRule(rule, table: table, family: family))
        }
        requests += pickChains(maps: maps, counts: pickCounts.sorted())
        return requests
    }

    /// The pick chains for `counts` (for service addresses and for node ports), with their one rule each, their
    /// sets (`service-ips-N`, `node-ports-N`) and the `services` rules that send those sets' keys to them.
    public static func pickChains(maps: ProxyMaps, counts: [Int]) -> [NetlinkRequest] {
        let family = NFTFamily(maps.family)
        let registers = Registers(maps.family)
        var requests: [NetlinkRequest] = []
        for count in counts {
            let target = ProxyPlan.Target.pick(count)
            requests.append(.addSet(maps.serviceSet(for: target), table: ProxyMaps.table, family: family))
            requests.append(.addSet(maps.nodePortSet(for: target), table: ProxyMaps.table, family: family))
            let service = NFTRule(
                chain: ProxyMaps.pickChain(count),
                expressions: [
                    .address(.destination, maps.family), .transportProtocol(register: registers.afterAddress),
                    .payload(base: .transport, offset: 2, length: 2, register: registers.afterAddress + 1),
                    .randomNumber(modulus: UInt32(count), register: registers.afterAddress + 2),
                    .lookup(
                        set: maps.endpoints.name, sourceRegister: registers.address, destinationRegister: 1,
                        setID: maps.endpoints.id),
                    .destinationNAT(
                        family: family.rawValue, addressRegister: 1, portRegister: registers.afterAddress,
                        markPortSpecified: false),
                ])
            let nodePort = NFTRule(
                chain: ProxyMaps.nodePortPickChain(count),
                expressions: [
                    .transportProtocol(register: 1), .payload(base: .transport, offset: 2, length: 2, register: 9),
                    .randomNumber(modulus: UInt32(count), register: 10),
                    .lookup(
                        set: maps.nodePortEndpoints.name, sourceRegister: 1, destinationRegister: 1,
                        setID: maps.nodePortEndpoints.id),
                    .destinationNAT(
                        family: family.rawValue, addressRegister: 1, portRegister: registers.afterAddress,
                        markPortSpecified: false),
                ])
            for rule in [service, nodePort] {
                requests.append(.addChain(NFTChain(name: rule.chain), table: ProxyMaps.table, family: family))
                requests.append(.addRule(rule, table: ProxyMaps.table, family: family))
            }
            for rule in dispatch(maps: maps, target: target, verdict: .goto(ProxyMaps.pickChain(count))) {
                requests.append(.addRule(rule, table: ProxyMaps.table, family: family))
            }
        }
        return requests
    }

    /// An affinity chain and its client map, both named `name` (`sessionAffinity: ClientIP`): a client in the map
    /// goes to its endpoint; another is sent by `numgen` through the vmap `<name>-pick` to a chain per endpoint,
    /// `<name>-<i>`, which remembers the endpoint for the client (`update @<name> { ip saddr timeout T : endpoint }`)
    /// and translates to it. kube-proxy's shape, kept to the Services that ask for affinity.
    public static func affinityChain(_ name: String, _ affinity: ProxyPlan.Affinity, maps: ProxyMaps)
        -> [NetlinkRequest]
    {
        let family = NFTFamily(maps.family)
        let table = ProxyMaps.table
        let map = maps.affinityMap(name)
        let pick = maps.affinityPicks(name)
        // The endpoint from register 2 on, its port right after it (32-bit register 13, or 16 after an IPv6 address).
        let port: UInt32 = maps.family == .ipv4 ? 13 : 16
        let translate = NFTExpression.destinationNAT(
            family: family.rawValue, addressRegister: 2, portRegister: port, markPortSpecified: false)
        var requests: [NetlinkRequest] = [
            .addSet(map, table: table, family: family), .addSet(pick, table: table, family: family),
        ]
        var picks: [NFTSetElement] = []
        for (index, endpoint) in affinity.endpoints.enumerated() {
            let chain = "\(name)-\(index)"
            let rule = NFTRule(
                chain: chain,
                expressions: [
                    .address(.source, maps.family), .immediate(register: 2, value: endpoint.address.bytes),
                    .immediate(register: port, value: ProxyMaps.bigEndian(endpoint.port)),
                    .updateSet(
                        set: name, keyRegister: 1, dataRegister: 2, timeout: affinity.timeout * 1000, setID: map.id),
                    translate,
                ])
            requests += [
                .addChain(NFTChain(name: chain), table: table, family: family),
                .addRule(rule, table: table, family: family),
            ]
            picks.append(NFTSetElement(key: ProxyMaps.hostOrder(index), verdict: .goto(chain)))
        }
        requests.append(.addElements(picks, to: pick, table: table, family: family))
        let remembered = NFTRule(
            chain: name,
            expressions: [
                .address(.source, maps.family),
                .lookup(set: name, sourceRegister: 1, destinationRegister: 2, setID: map.id), translate,
            ])
        let picked = NFTRule(
            chain: name,
            expressions: [
                .randomNumber(modulus: UInt32(affinity.endpoints.count), register: 1),
                .lookup(set: pick.name, sourceRegister: 1, destinationRegister: 0, setID: pick.id),
            ])
        return requests + [
            .addChain(NFTChain(name: name), table: table, family: family),
            .addRule(remembered, table: table, family: family), .addRule(picked, table: table, family: family),
        ]
    }

    /// What removes an affinity chain, its per-endpoint chains and its maps (each after what refers to it).
    public static func removeAffinityChain(_ name: String, _ affinity: ProxyPlan.Affinity, maps: ProxyMaps)
        -> [NetlinkRequest]
    {
        let family = NFTFamily(maps.family)
        let table = ProxyMaps.table
        return [
            .deleteChain(name, table: table, family: family),
            .deleteSet(maps.affinityPicks(name).name, table: table, family: family),
        ] + affinity.endpoints.indices.map { .deleteChain("\(name)-\($0)", table: table, family: family) } + [
            .deleteSet(name, table: table, family: family)
        ]
    }

    /// A firewall chain: back to `filter-prerouting` for a source in one of `ranges`, dropped otherwise.
    public static func firewallChain(_ name: String, ranges: [IPNetwork], maps: ProxyMaps) -> [NetlinkRequest] {
        let family = NFTFamily(maps.family)
        let rules =
            ranges.map { NFTRule(chain: name, expressions: NFTExpression.inNetwork(.source, $0) + [.verdict(.return)]) }
            + [NFTRule(chain: name, expressions: [.verdict(.drop)])]
        return [.addChain(NFTChain(name: name), table: ProxyMaps.table, family: family)]
            + rules.map { .addRule($0, table: ProxyMaps.table, family: family) }
    }

    /// The two `services` rules of a target: service keys in its `service-ips-…` set, and node ports (on the node's
    /// own addresses but loopback) in its `node-ports-…` set, get `verdict` (node ports the node-port variant).
    static func dispatch(maps: ProxyMaps, target: ProxyPlan.Target, verdict: NFTExpression.Verdict) -> [NFTRule] {
        let registers = Registers(maps.family)
        let services = maps.serviceSet(for: target)
        let nodePorts = maps.nodePortSet(for: target)
        let loopback = IPNetwork(maps.family == .ipv4 ? "127.0.0.0/8" : "::1/128")!
        var nodePortVerdict = verdict
        if case .goto(let chain) = verdict { nodePortVerdict = .goto("node-port-" + chain) }
        return [
            NFTRule(
                chain: "services",
                expressions: [
                    .address(.destination, maps.family), .transportProtocol(register: registers.afterAddress),
                    .payload(base: .transport, offset: 2, length: 2, register: registers.afterAddress + 1),
                    .lookup(set: services.name, sourceRegister: 1, destinationRegister: nil, setID: services.id),
                    .verdict(verdict),
                ]),
            NFTRule(
                chain: "services",
                expressions: [
                    .destinationAddressType(register: 1), .compare(.equal, register: 1, value: [2, 0, 0, 0]),
                ]
                    + NFTExpression.inNetwork(.destination, loopback, negated: true) + [
                        .transportProtocol(register: 1), .payload(base: .transport, offset: 2, length: 2, register: 9),
                        .lookup(set: nodePorts.name, sourceRegister: 1, destinationRegister: nil, setID: nodePorts.id),
                        .verdict(nodePortVerdict),
                    ]),
        ]
    }

    static let chains: [NFTChain] = [
        NFTChain(name: "services"),
        NFTChain(name: "nat-prerouting", base: .init(type: "nat", hook: .prerouting, priority: -100)),
        NFTChain(name: "nat-output", base: .init(type: "nat", hook: .output, priority: -100)),
        NFTChain(name: "nat-postrouting", base: .init(type: "nat", hook: .postrouting, priority: 100)),
        NFTChain(name: "filter-prerouting", base: .init(type: "filter", hook: .prerouting, priority: -110)),
        NFTChain(name: "filter-input", base: .init(type: "filter", hook: .input, priority: -110)),
        NFTChain(name: "filter-forward", base: .init(type: "filter", hook: .forward, priority: -110)),
        NFTChain(name: "filter-output", base: .init(type: "filter", hook: .output, priority: -110)),
    ]

    static func rules(maps: ProxyMaps, clusterCIDRs: [IPNetwork], nodePodCIDRs: [IPNetwork]) -> [NFTRule] {
        let family = maps.family
        let registers = Registers(family)
        let destination: [NFTExpression] = [
            .address(.destination, family), .transportProtocol(register: registers.afterAddress),
            .payload(base: .transport, offset: 2, length: 2, register: registers.afterAddress + 1),
        ]
        let portOnly: [NFTExpression] = [
            .transportProtocol(register: 1), .payload(base: .transport, offset: 2, length: 2, register: 9),
        ]
        let local: [NFTExpression] = [
            .destinationAddressType(register: 1), .compare(.equal, register: 1, value: [2, 0, 0, 0]),
        ]
        // Keys with session affinity first: their chains pick (and remember) the endpoint per client.
        var rules: [NFTRule] = [
            NFTRule(
                chain: "services",
                expressions: destination + [
                    .lookup(
                        set: maps.affinity.name, sourceRegister: 1, destinationRegister: 0, setID: maps.affinity.id)
                ])
        ]
        rules +=
            dispatch(maps: maps, target: .drop, verdict: .drop) + [
                NFTRule(chain: "nat-prerouting", expressions: [.verdict(.jump("services"))]),
                NFTRule(chain: "nat-output", expressions: [.verdict(.jump("services"))]),
            ]
        // Translated connections from outside the cluster to an endpoint on another node go out with this node's
        // address, so replies come back here; to a pod of this node they keep their source (`externalTrafficPolicy:
        // Local` preserves the client's address, and so does Cluster when the endpoint chosen is local).
        let translated: [NFTExpression] = [
            .conntrackStatus(register: 1), .mask(register: 1, mask: [0x20, 0, 0, 0]),
            .compare(.notEqual, register: 1, value: [0, 0, 0, 0]),
        ]
        let outside = clusterCIDRs.filter { $0.family == family }.flatMap {
            NFTExpression.inNetwork(.source, $0, negated: true)
        }
        let elsewhere = nodePodCIDRs.filter { $0.family == family }.flatMap {
            NFTExpression.inNetwork(.destination, $0, negated: true)
        }
        rules.append(NFTRule(chain: "nat-postrouting", expressions: translated + outside + elsewhere + [.masquerade]))
        rules.append(
            NFTRule(
                chain: "nat-postrouting",
                expressions: [
                    .address(.source, family),
                    .payload(
                        base: .network, offset: family == .ipv4 ? 16 : 24, length: family == .ipv4 ? 4 : 16,
                        register: registers.afterAddress),
                    .lookup(
                        set: maps.hairpin.name, sourceRegister: 1, destinationRegister: nil, setID: maps.hairpin.id),
                    .masquerade,
                ]))
        // Load balancer addresses with source ranges, before anything is translated.
        rules.append(
            NFTRule(
                chain: "filter-prerouting",
                expressions: destination + [
                    .lookup(
                        set: maps.firewall.name, sourceRegister: 1, destinationRegister: 0, setID: maps.firewall.id)
                ]))
        for chain in ["filter-input", "filter-forward", "filter-output"] {
            rules.append(
                NFTRule(
                    chain: chain,
                    expressions: destination + [
                        .lookup(
                            set: maps.noEndpoints.name, sourceRegister: 1, destinationRegister: nil,
                            setID: maps.noEndpoints.id), .reject(family),
                    ]))
            rules.append(
                NFTRule(
                    chain: chain,
                    expressions: local + portOnly + [
                        .lookup(
                            set: maps.noEndpointNodePorts.name, sourceRegister: 1, destinationRegister: nil,
                            setID: maps.noEndpointNodePorts.id), .reject(family),
                    ]))
        }
        return rules
    }
}
