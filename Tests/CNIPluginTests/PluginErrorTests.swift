import Foundation
import KubeAPI
import PylonTestSupport
import Testing

/// Every way an invocation can be wrong gets the spec's error document with its code and exit status 1, and leaves
/// the node as it was: no bridge, no interface in the pod, no address taken.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct PluginErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let command: String
        let environment: [String: String]
        let config: String
        let code: Int64
        let message: String
        var testDescription: String { name }
    }

    static let good = """
        {"cniVersion":"1.1.0","name":"cbr0","type":"pylon","isDefaultGateway":true,
         "ipam":{"type":"host-local","ranges":[[{"subnet":"10.42.0.0/24"}]],"dataDir":"STORE"}}
        """

    static func replacing(_ old: String, _ new: String) -> String { good.replacingOccurrences(of: old, with: new) }

    static let cases: [Case] = [
        Case(
            name: "CNI_NETNS missing", command: "ADD", environment: ["CNI_NETNS": ""], config: good, code: 4,
            message: "required env variables [CNI_NETNS] missing"),
        Case(
            name: "unknown command", command: "PATCH", environment: [:], config: good, code: 4,
            message: "unknown CNI_COMMAND: PATCH"),
        Case(
            name: "interface name with a slash", command: "ADD", environment: ["CNI_IFNAME": "a/b"], config: good,
            code: 4, message: "interface name contains / or : or whitespace characters"),
        Case(
            name: "namespace that does not exist", command: "ADD",
            environment: ["CNI_NETNS": "/var/run/netns/pylc-none"],
            config: good, code: 4, message: "CNI_NETNS /var/run/netns/pylc-none is not a network namespace"),
        Case(
            name: "version from the future", command: "ADD", environment: [:],
            config: replacing("\"1.1.0\"", "\"9.0.0\""), code: 1, message: "incompatible CNI versions"),
        Case(
            name: "version before CHECK", command: "ADD", environment: [:],
            config: replacing("\"1.1.0\"", "\"0.3.1\""), code: 1, message: "incompatible CNI versions"),
        Case(
            name: "GC in 1.0.0", command: "GC", environment: [:], config: replacing("\"1.1.0\"", "\"1.0.0\""),
            code: 1, message: "config version does not allow GC"),
        Case(
            name: "truncated JSON", command: "ADD", environment: [:], config: "{\"cniVersion\":", code: 6,
            message: "error unmarshall network config: invalid JSON"),
        Case(
            name: "not an object", command: "ADD", environment: [:], config: "[1]", code: 6,
            message: "the network configuration must be a JSON object, not array"),
        Case(
            name: "no name", command: "ADD", environment: [:], config: replacing("\"name\":\"cbr0\",", ""), code: 7,
            message: "missing network name"),
        Case(
            name: "MTU as text", command: "ADD", environment: [:],
            config: replacing("\"type\":\"pylon\"", "\"mtu\":\"big\""),
            code: 7, message: "mtu must be an integer, not a string"),
        Case(
            name: "subnet with host bits", command: "ADD", environment: [:],
            config: replacing("10.42.0.0/24", "10.42.0.7/24"), code: 7,
            message: "ipam.ranges[0][0].subnet 10.42.0.7/24 has host bits set: the network of a /24 is 10.42.0.0/24"),
        Case(
            name: "hairpin and promiscuous", command: "ADD", environment: [:],
            config: replacing("\"type\":\"pylon\"", "\"hairpinMode\":true,\"promiscMode\":true"), code: 7,
            message: "hairpinMode and promiscMode cannot both be on"),
        Case(
            name: "DHCP", command: "ADD", environment: [:], config: replacing("\"host-local\"", "\"dhcp\""), code: 2,
            message: "ipam.type \"dhcp\" is not supported: Pylon's plugin has host-local address management built in"),
        Case(
            name: "VLAN", command: "ADD", environment: [:], config: replacing("\"type\":\"pylon\"", "\"vlan\":5"),
            code: 2, message: "vlan is not supported by Pylon's plugin"),
        Case(
            name: "CHECK without prevResult", command: "CHECK", environment: [:], config: good, code: 7,
            message: "required prevResult missing"),
        Case(
            name: "CHECK of a container never added", command: "CHECK", environment: [:],
            config: replacing(
                "\"isDefaultGateway\":true,", "\"isDefaultGateway\":true,\"prevResult\":{\"cniVersion\":\"1.1.0\"},"),
            code: 3, message: "unknown container pod-1: no address is recorded for it"),
        Case(
            name: "flannel mode before subnet.env", command: "ADD", environment: [:],
            config: """
                {"cniVersion":"1.0.0","name":"cbr0","type":"pylon","subnetFile":"STORE/subnet.env",
                 "delegate":{"isDefaultGateway":true},"ipam":{"dataDir":"STORE"}}
                """, code: 11, message: "STORE/subnet.env does not exist yet"),
        Case(
            name: "garbage in subnet.env", command: "ADD", environment: [:],
            config: """
                {"cniVersion":"1.0.0","name":"cbr0","type":"pylon","subnetFile":"STORE/garbage.env",
                 "delegate":{"isDefaultGateway":true},"ipam":{"dataDir":"STORE"}}
                """, code: 7, message: "STORE/garbage.env: FLANNEL_SUBNET=10.42.300.1/24 is not a CIDR"),
    ]

    @Test(arguments: cases)
    func answersWithTheSpecsCodeAndChangesNothing(_ wrong: Case) async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 2) { scratch in
            let work = try TemporaryDirectory()
            try "FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.300.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
                .write(toFile: work.path + "/garbage.env", atomically: true, encoding: .utf8)
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            var environment = ["CNI_NETNS": "/var/run/netns/\(scratch.names[1])"]
            environment.merge(wrong.environment) { $1 }
            let answer = try await pylon.run(
                wrong.command, container: "pod-1", netns: nil,
                config: wrong.config.replacingOccurrences(of: "STORE", with: work.path),
                environment: environment)
            #expect(answer.status == 1)
            #expect(answer.code == wrong.code, "\(answer.output)")
            #expect(
                answer.message.hasPrefix(wrong.message.replacingOccurrences(of: "STORE", with: work.path)),
                "\(answer.output)")
            #expect(answer.json?["cniVersion"]?.stringValue != nil)
            #expect(try !scratch.ip(0, "link").contains("cni0"), "no bridge was made")
            #expect(try !scratch.ip(1, "link").contains("eth0"), "no interface was made in the pod")
            let stored = (try? FileManager.default.contentsOfDirectory(atPath: work.path + "/cbr0")) ?? []
            #expect(stored.allSatisfy { $0 == "lock" }, "no address was taken: \(stored)")
        }
    }

    @Test func versionAndStatusAnswer() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 1) { scratch in
            let work = try TemporaryDirectory()
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let version = try await pylon.run("VERSION", interface: "", config: "{\"cniVersion\":\"1.0.0\"}")
            #expect(version.status == 0)
            #expect(version.json == ["cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]])
            let ready = try await pylon.run(
                "STATUS", interface: "", config: Self.good.replacingOccurrences(of: "STORE", with: work.path))
            #expect(ready.status == 0 && ready.output.isEmpty, "\(ready.output)")
            let flannel = """
                {"cniVersion":"1.1.0","name":"cbr0","type":"pylon","subnetFile":"\(work.path)/subnet.env",
                 "ipam":{"dataDir":"\(work.path)"}}
                """
            let waiting = try await pylon.run("STATUS", interface: "", config: flannel)
            #expect(
                waiting.code == 50 && waiting.message.contains("subnet.env does not exist yet"), "\(waiting.output)")
        }
    }
}
