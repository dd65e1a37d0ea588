import KubeAPI
import LoadBalancerConfig
import NetCore
import Testing

/// BGPPeer, BGPAdvertisement and Community objects as MetalLB users write them: defaults, accepted forms, and each
/// mistake reported on its object and field.
@Suite struct BGPConfigurationTests {
    static let pools = [AddressPool(name: "lan", ranges: [try! IPRange(parsing: "192.0.2.100-192.0.2.200")])]

    static func peer(_ spec: JSON, name: String = "router") -> JSON {
        ["apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": ["name": .string(name)], "spec": spec]
    }

    static func advertisement(_ spec: JSON, name: String = "all") -> JSON {
        [
            "apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": ["name": .string(name)],
            "spec": spec,
        ]
    }

    static let aliases: JSON = [
        "metadata": ["name": "communities"],
        "spec": [
            "communities": [
                ["name": "no-export", "value": "65535:65281"], ["name": "big", "value": "large:64512:1:2"],
            ]
        ],
    ]

    static func parse(
        peers: [JSON] = [], advertisements: [JSON] = [], communities: [JSON] = [aliases], bfdProfiles: [JSON] = []
    ) -> Result<BGPConfiguration, ConfigurationErrors> {
        BGPConfiguration.parse(
            peers: peers, advertisements: advertisements, communities: communities, bfdProfiles: bfdProfiles,
            pools: pools)
    }

    static func bfdProfile(_ spec: JSON, name: String = "fast") -> JSON {
        ["apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": ["name": .string(name)], "spec": spec]
    }

    @Test func bfdProfilesTakeMetalLBsDefaultsAndBindToTheirPeers() throws {
        let configuration = try Self.parse(
            peers: [
                Self.peer(
                    ["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "bfdProfile": "fast"], name: "a"),
                Self.peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.2"], name: "b"),
            ],
            bfdProfiles: [
                Self.bfdProfile([:], name: "defaults"),
                Self.bfdProfile([
                    "receiveInterval": 100, "transmitInterval": 150, "detectMultiplier": 5, "passiveMode": true,
                    "echoMode": true, "echoInterval": 20, "minimumTtl": 200,
                ]),
            ]
        ).get()
        #expect(configuration.bfdProfiles["defaults"] == BFDProfile(name: "defaults"))
        let defaults = try #require(configuration.bfdProfiles["defaults"])
        #expect(defaults.receiveInterval == .milliseconds(300) && defaults.transmitInterval == .milliseconds(300))
        #expect(defaults.detectMultiplier == 3 && !defaults.passiveMode && !defaults.echoMode)
        let fast = try #require(configuration.bfdProfile(of: configuration.peers[0]))
        #expect(fast.receiveInterval == .milliseconds(100) && fast.transmitInterval == .milliseconds(150))
        #expect(
            fast.detectMultiplier == 5 && fast.passiveMode && fast.echoMode && fast.echoInterval == .milliseconds(20))
        #expect(fast.minimumTTL == 200)
        #expect(configuration.bfdProfile(of: configuration.peers[1]) == nil, "peer b asks for no BFD")
    }

    static let badBFDProfiles: [(JSON, String)] = [
        (["receiveInterval": 5], "spec.receiveInterval"), (["transmitInterval": 60_001], "spec.transmitInterval"),
        (["detectMultiplier": 1], "spec.detectMultiplier"), (["echoInterval": "fast"], "spec.echoInterval"),
        (["minimumTtl": 255], "spec.minimumTtl"), (["passiveMode": "yes"], "spec.passiveMode"),
    ]

    @Test(arguments: badBFDProfiles)
    func aBadBFDProfileIsReportedOnItsField(_ spec: JSON, _ field: String) {
        guard case .failure(let errors) = Self.parse(bfdProfiles: [Self.bfdProfile(spec)]) else {
            Issue.record("accepted \(spec)")
            return
        }
        #expect(errors.errors.map(\.field) == [field])
        #expect(errors.errors.first?.kind == "BFDProfile" && errors.errors.first?.name == "fast")
    }

    @Test func aPeerNamingAMissingBFDProfileIsInvalid() {
        let peer = Self.peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "bfdProfile": "nope"])
        guard case .failure(let errors) = Self.parse(peers: [peer]) else {
            Issue.record("accepted a peer without its BFD profile")
            return
        }
        #expect(errors.description == "BGPPeer \"router\": spec.bfdProfile: BFDProfile \"nope\" does not exist")
    }

    @Test func aMetalLBPeerAndAdvertisementReadWithDefaults() throws {
        let configuration = try Self.parse(
            peers: [Self.peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1"])],
            advertisements: [
                Self.advertisement([
                    "ipAddressPools": ["lan"], "localPref": 300,
                    "communities": ["64512:100", "no-export", "big", "large:4200000001:1:2"],
                ])
            ]
        ).get()
        let peer = try #require(configuration.peers.first)
        #expect(peer.port == 179 && peer.holdTime == 90 && peer.keepaliveTime == nil && peer.connectTime == .seconds(5))
        #expect(peer.address == IPAddress("192.0.2.1")! && peer.nodeSelectors.isEmpty && !peer.ebgpMultiHop)
        let advertisement = try #require(configuration.advertisements.first)
        #expect(advertisement.aggregationLength == 32 && advertisement.aggregationLengthV6 == 128)
        #expect(advertisement.localPreference == 300 && advertisement.covers(Self.pools[0]))
        let expected: [BGPCommunity] = [
            .standard(0xFC00_0064), .standard(0xFFFF_FF01), .large(64_512, 1, 2), .large(4_200_000_001, 1, 2),
        ]
        #expect(advertisement.communities == expected)
        #expect(
            advertisement.communities.map(\.description) == [
                "64512:100", "65535:65281", "large:64512:1:2", "large:4200000001:1:2",
            ])
        #expect(advertisement.targets(peer: "router"), "no peers named: every peer")
    }

    @Test func durationsSelectorsAndSecretsAreRead() throws {
        let configuration = try Self.parse(
            peers: [
                Self.peer([
                    "myASN": 64_512, "peerASN": 64_512, "peerAddress": "2001:db8::1", "peerPort": 1179,
                    "sourceAddress": "2001:db8::b", "holdTime": "1m30s", "keepaliveTime": "30s", "connectTime": "500ms",
                    "routerID": "192.0.2.11", "passwordSecret": ["name": "bgp-auth"],
                    "nodeSelectors": [["matchLabels": ["rack": "a"]]], "enableGracefulRestart": true,
                    "bfdProfile": "fast",
                ])
            ], bfdProfiles: [Self.bfdProfile([:])]
        ).get()
        let peer = try #require(configuration.peers.first)
        #expect(peer.holdTime == 90 && peer.keepaliveTime == 30 && peer.connectTime == .milliseconds(500))
        #expect(peer.port == 1179 && peer.sourceAddress == IPAddress("2001:db8::b")!)
        #expect(peer.passwordSecret?.name == "bgp-auth" && peer.password == nil)
        #expect(peer.selects(nodeLabels: ["rack": "a"]) && !peer.selects(nodeLabels: ["rack": "b"]))
        #expect(peer.enableGracefulRestart && peer.bfdProfile == "fast")
    }

    @Test(arguments: [
        (peer(["peerASN": 64_500, "peerAddress": "192.0.2.1"]), "BGPPeer \"router\": spec.myASN"),
        (
            peer(["myASN": 64_512, "peerAddress": "192.0.2.1", "dynamicASN": "external"]),
            "dynamicASN is not supported yet"
        ),
        (
            peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "router.example"]),
            "spec.peerAddress: an IP address is required"
        ),
        (peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "peerPort": 70000]), "spec.peerPort"),
        (
            peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "holdTime": "2s"]),
            "spec.holdTime: must be 0 or between 3s"
        ),
        (
            peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "holdTime": "ninety"]),
            "is not a duration"
        ),
        (
            peer([
                "myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "holdTime": "9s",
                "keepaliveTime": "10s",
            ]), "spec.keepaliveTime"
        ),
        (
            peer(["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "routerID": "2001:db8::1"]),
            "spec.routerID"
        ),
        (
            peer([
                "myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1", "password": "s3cret",
                "passwordSecret": ["name": "x"],
            ]), "cannot both be set"
        ),
        (
            peer(["myASN": 64_512, "peerASN": 64_512, "peerAddress": "192.0.2.1", "ebgpMultiHop": true]),
            "external peers only"
        ),
        (
            peer([
                "myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1",
                "nodeSelectors": [["matchExpressions": [["key": "a", "operator": "Sometimes"]]]],
            ]), "spec.nodeSelectors[0]"
        ),
    ])
    func eachPeerMistakeIsNamed(_ object: JSON, _ expected: String) {
        guard case .failure(let errors) = Self.parse(peers: [object]) else {
            Issue.record("accepted: \(object)")
            return
        }
        #expect(errors.description.contains(expected), "\(errors)")
        #expect(!errors.description.contains("s3cret"), "a password never appears in an error")
    }

    @Test(arguments: [
        (advertisement(["aggregationLength": 33]), "BGPAdvertisement \"all\": spec.aggregationLength"),
        (advertisement(["aggregationLengthV6": 129]), "spec.aggregationLengthV6"),
        (advertisement(["localPref": -1]), "spec.localPref"),
        (advertisement(["communities": ["65536:1"]]), "spec.communities[0]"),
        (advertisement(["communities": ["large:1:2"]]), "spec.communities[0]"),
        (advertisement(["communities": ["no-such-alias"]]), "nor the name of a Community alias"),
        (advertisement(["ipAddressPools": ["gold"]]), "pool \"gold\" does not exist"),
    ])
    func eachAdvertisementMistakeIsNamed(_ object: JSON, _ expected: String) {
        guard case .failure(let errors) = Self.parse(advertisements: [object]) else {
            Issue.record("accepted: \(object)")
            return
        }
        #expect(errors.description.contains(expected), "\(errors)")
    }

    @Test func twoPeersForTheSameRouterOnEveryNodeAreAConflict() {
        let spec: JSON = ["myASN": 64_512, "peerASN": 64_500, "peerAddress": "192.0.2.1"]
        guard case .failure(let errors) = Self.parse(peers: [Self.peer(spec, name: "a"), Self.peer(spec, name: "b")])
        else {
            Issue.record("accepted")
            return
        }
        #expect(errors.description.contains("also configured by BGPPeer \"a\""), "\(errors)")
        var elsewhere = spec
        elsewhere["nodeSelectors"] = [["matchLabels": ["rack": "b"]]]
        #expect((try? Self.parse(peers: [Self.peer(spec, name: "a"), Self.peer(elsewhere, name: "b")]).get()) != nil)
    }

    @Test func badCommunityAliasesAreReported() {
        let broken: JSON = [
            "metadata": ["name": "c"], "spec": ["communities": [["name": "x", "value": "1:2:3"], ["name": "y"]]],
        ]
        guard case .failure(let errors) = Self.parse(communities: [broken]) else {
            Issue.record("accepted")
            return
        }
        #expect(errors.errors.map(\.field) == ["spec.communities[0].value", "spec.communities[1]"])
    }
}
