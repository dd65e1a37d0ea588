import CNI
import NetCore
import Overlay
import Testing

/// `net-conf.json` as flannel reads it, and `subnet.env` as flannel writes it.
@Suite struct NetConfTests {
    @Test func k3sNetConfParses() throws {
        // What K3s writes for its embedded flannel with the default vxlan backend.
        let conf = try NetConf(
            parsing:
                #"{"Network":"10.42.0.0/16","EnableIPv6":false,"EnableIPv4":true,"IPv6Network":"::/0","Backend":{"Type":"vxlan"}}"#
        )
        #expect(conf.network == IPNetwork("10.42.0.0/16"))
        #expect(conf.enableIPv4 && !conf.enableIPv6)
        #expect(conf.backend == OverlayBackend(kind: .vxlan, vni: 1, port: 0))
        #expect(conf.backend.deviceName(ipv6: false) == "flannel.1")
        #expect(conf.backend.podMTU(underlayMTU: 1500) == 1450, "the seed's flannel.1 and cni0 have mtu 1450")
    }

    @Test func keysMatchWithoutRegardToCaseAsInGo() throws {
        let conf = try NetConf(
            parsing:
                #"{"network":"10.42.0.0/16","ipv6network":"2001:db8:42::/56","enableipv6":true,"backend":{"type":"vxlan","vni":4096,"port":4789,"directRouting":true,"MTU":9000}}"#
        )
        #expect(conf.ipv6Network == IPNetwork("2001:db8:42::/56"))
        #expect(conf.enableIPv6)
        #expect(conf.backend.vni == 4096 && conf.backend.port == 4789 && conf.backend.directRouting)
        #expect(conf.backend.deviceName(ipv6: true) == "flannel-v6.4096")
        #expect(conf.backend.podMTU(underlayMTU: 1500) == 8950, "MTU is the underlay's, as in flannel")
        #expect(conf.backend.podMTU(underlayMTU: 1500, ipv6: true) == 8930, "VXLAN over IPv6 costs 70 bytes")
        let hostGW = try NetConf(parsing: #"{"Network":"10.42.0.0/16","Backend":{"Type":"host-gw"}}"#)
        #expect(hostGW.backend.kind == .hostGW)
        #expect(hostGW.backend.podMTU(underlayMTU: 1500) == 1500)
        #expect(try NetConf(parsing: #"{"Network":"10.42.0.0/16"}"#).backend.kind == .vxlan)
    }

    @Test(
        arguments: [
            ("[1]", OverlayError.Reason.invalidNetConf, "must hold a JSON object"),
            ("{", .invalidNetConf, "is not JSON"),
            (#"{"Backend":{"Type":"vxlan"}}"#, .invalidNetConf, "Network is required"),
            (#"{"Network":"10.42.0.0"}"#, .invalidNetConf, "Network \"10.42.0.0\" is not a CIDR"),
            (#"{"Network":"2001:db8::/32"}"#, .invalidNetConf, "is not an IPv4 network"),
            (#"{"Network":"10.42.0.0/16","EnableIPv6":true}"#, .invalidNetConf, "IPv6Network is required"),
            (#"{"Network":"10.42.0.0/16","EnableIPv4":"yes"}"#, .invalidNetConf, "EnableIPv4 must be true or false"),
            (#"{"EnableIPv4":false}"#, .invalidNetConf, "both false"),
            (#"{"Network":"10.42.0.0/16","Backend":"vxlan"}"#, .invalidNetConf, "Backend must be an object"),
            (
                #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan","VNI":-1}}"#, .invalidNetConf,
                "Backend.VNI must be"
            ),
            (#"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan","Port":70000}}"#, .invalidNetConf, "Backend.Port"),
            (#"{"Network":"10.42.0.0/16","Backend":{"Type":"wireguard"}}"#, .unsupportedBackend, "needs WireGuard"),
            (#"{"Network":"10.42.0.0/16","Backend":{"Type":"ipsec"}}"#, .unsupportedBackend, "was removed"),
            (#"{"Network":"10.42.0.0/16","Backend":{}}"#, .unsupportedBackend, "unknown backend type \"udp\""),
            (#"{"Network":"10.42.0.0/16","Backend":{"Type":"aws-vpc"}}"#, .unsupportedBackend, "\"aws-vpc\""),
        ] as [(String, OverlayError.Reason, String)])
    func badNetConfIsRefusedWithTheKey(text: String, reason: OverlayError.Reason, fragment: String) {
        #expect {
            _ = try NetConf(parsing: text)
        } throws: { error in
            guard let error = error as? OverlayError else { return false }
            return error.reason == reason && error.message.contains(fragment)
        }
    }

    @Test func subnetEnvIsWrittenAsFlannelWritesItAndReadsBack() throws {
        let env = SubnetEnv(
            networks: [IPNetwork("10.42.0.0/16")!], subnet: IPNetwork("10.42.1.0/24"), mtu: 1450,
            flannelMasquerades: true)
        #expect(
            env.rendered
                == "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
        #expect(try SubnetEnv(parsing: env.rendered, file: "subnet.env") == env)
        let dual = SubnetEnv(
            networks: [IPNetwork("10.42.0.0/16")!, IPNetwork("2001:db8:42::/56")!], subnet: IPNetwork("10.42.2.0/24"),
            ipv6Subnet: IPNetwork("2001:db8:42:2::/64"), mtu: 1430, flannelMasquerades: false)
        #expect(
            dual.rendered
                == """
                FLANNEL_NETWORK=10.42.0.0/16
                FLANNEL_SUBNET=10.42.2.1/24
                FLANNEL_IPV6_NETWORK=2001:db8:42::/56
                FLANNEL_IPV6_SUBNET=2001:db8:42:2::1/64
                FLANNEL_MTU=1430
                FLANNEL_IPMASQ=false

                """)
        #expect(try SubnetEnv(parsing: dual.rendered, file: "subnet.env") == dual)
    }
}
