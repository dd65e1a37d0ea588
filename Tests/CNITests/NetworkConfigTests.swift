import CNI
import KubeAPI
import NetCore
import Testing

/// Reading configurations, `subnet.env` and the environment, and writing results, without a kernel.
@Suite struct NetworkConfigTests {
    static func config(_ text: String) throws -> NetworkConfig {
        try NetworkConfig(parsing: try JSONParser.parse(text))
    }

    @Test func k3sFlannelEntryResolvesAsFlannelDelegates() throws {
        let config = try Self.config(
            """
            {"cniVersion":"1.0.0","name":"cbr0","type":"pylon",
             "delegate":{"hairpinMode":true,"forceAddress":true,"isDefaultGateway":true}}
            """)
        #expect(config.flannel?.subnetFile == "/run/flannel/subnet.env" && config.ipam == nil)
        let env = try SubnetEnv(
            parsing:
                "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
            file: "subnet.env")
        let resolved = try config.resolved(with: env)
        #expect(resolved.mtu == 1450 && resolved.ipMasquerade == false && resolved.isGateway && resolved.hairpinMode)
        #expect(resolved.ipam?.rangeSets.map(\.description) == ["10.42.3.1-10.42.3.254"])
        #expect(resolved.ipam?.routes == [CNIResult.RouteConfig(destination: IPNetwork("10.42.0.0/16")!)])
        let explicit = try Self.config(
            """
            {"cniVersion":"1.0.0","name":"cbr0","delegate":{"isGateway":false,"mtu":1400,"ipMasq":true}}
            """
        ).resolved(with: env)
        #expect(!explicit.isGateway && explicit.mtu == 1400 && explicit.ipMasquerade == true, "what is set stays")
    }

    @Test func subnetEnvNamesWhatIsMissingOrWrong() throws {
        #expect {
            _ = try SubnetEnv(parsing: "FLANNEL_SUBNET=10.42.3.1/24\n", file: "/run/flannel/subnet.env")
        } throws: { error in
            (error as? CNIError)?.message
                == "/run/flannel/subnet.env is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_MTU, FLANNEL_IPMASQ"
        }
        #expect {
            _ = try SubnetEnv(parsing: "FLANNEL_MTU=huge\n", file: "s.env")
        } throws: { error in (error as? CNIError)?.message == "s.env: FLANNEL_MTU=huge is not an MTU" }
        let dual = try SubnetEnv(
            parsing: """
                FLANNEL_NETWORK=10.42.0.0/16
                FLANNEL_IPV6_NETWORK=2001:db8:42::/56
                FLANNEL_SUBNET=10.42.0.1/24
                FLANNEL_IPV6_SUBNET=2001:db8:42::1/64
                FLANNEL_MTU=1450
                FLANNEL_IPMASQ=false
                """, file: "s.env")
        #expect(
            dual.networks.count == 2 && dual.ipv6Subnet == IPNetwork("2001:db8:42::/64") && !dual.flannelMasquerades)
    }

    @Test func portMappingsAndAttachmentsAreRead() throws {
        let config = try Self.config(
            """
            {"cniVersion":"1.1.0","name":"cbr0","ipam":{"subnet":"10.42.0.0/24"},
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"UDP","hostIP":"198.51.100.1"},
                                              {"hostPort":9090,"containerPort":90}]},
             "cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}
            """)
        #expect(
            config.portMappings == [
                PortMapping(hostPort: 8080, containerPort: 80, transport: .udp, hostIP: IPAddress("198.51.100.1")),
                PortMapping(hostPort: 9090, containerPort: 90, transport: .tcp),
            ])
        #expect(config.validAttachments == [NetworkConfig.Attachment(containerID: "a", interfaceName: "eth0")])
        #expect(
            config.ipam?.rangeSets.first?.ranges.first?.subnet == IPNetwork("10.42.0.0/24"),
            "the older single-range form")
        #expect {
            _ = try Self.config(
                "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"ipam\":{\"subnet\":\"10.42.0.0/24\"},\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":0,\"containerPort\":1}]}}"
            )
        } throws: { error in
            (error as? CNIError)?.message == "runtimeConfig.portMappings[0].hostPort must be between 1 and 65535, not 0"
        }
    }

    @Test func resultsAreWrittenPerVersionAndReadBack() throws {
        let result = CNIResult(
            interfaces: [
                CNIResult.Interface(name: "eth0", mac: "02:00:00:00:00:01", mtu: 1450, sandbox: "/var/run/netns/p")
            ],
            ips: [
                CNIResult.IPConfig(
                    address: IPAddress("10.42.0.2")!, prefixLength: 24, gateway: IPAddress("10.42.0.1"), interface: 0)
            ],
            routes: [CNIResult.RouteConfig(destination: IPNetwork("0.0.0.0/0")!, gateway: IPAddress("10.42.0.1"))])
        let old = result.json(version: "0.4.0")
        #expect(
            old["ips"]?.arrayValue?.first?["version"] == "4"
                && old[path: ["interfaces"]]?.arrayValue?.first?["mtu"] == nil)
        let new = result.json(version: "1.1.0")
        #expect(
            new["ips"]?.arrayValue?.first?["version"] == nil && new["interfaces"]?.arrayValue?.first?["mtu"] == 1450)
        #expect(try CNIResult(json: new) == result)
        #expect(throws: CNIError.self) { _ = try CNIResult(json: ["ips": [["address": "10.42.0.2"]]]) }
    }

    @Test func theEnvironmentIsCheckedAsLibcniChecksIt() throws {
        let add = try CNIInvocation(environment: [
            "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/p", "CNI_IFNAME": "eth0",
            "CNI_ARGS": "A=1;B=2",
        ])
        #expect(add.command == .add && add.arguments == ["A": "1", "B": "2"])
        let delete = try CNIInvocation(environment: [
            "CNI_COMMAND": "DEL", "CNI_CONTAINERID": "abc", "CNI_IFNAME": "eth0",
        ])
        #expect(delete.networkNamespace.isEmpty, "DEL does not need the namespace")
        for (environment, message) in [
            (
                ["CNI_COMMAND": "ADD", "CNI_IFNAME": "eth0"],
                "required env variables [CNI_CONTAINERID,CNI_NETNS] missing"
            ),
            (
                ["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "a b", "CNI_IFNAME": "eth0"],
                "invalid characters in containerID"
            ),
            (
                ["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "a", "CNI_IFNAME": "sixteen-chars-xx"],
                "interface name is too long"
            ),
        ] {
            #expect {
                _ = try CNIInvocation(environment: environment)
            } throws: { error in
                (error as? CNIError)?.code == .invalidEnvironment && (error as? CNIError)?.message == message
            }
        }
    }
}
