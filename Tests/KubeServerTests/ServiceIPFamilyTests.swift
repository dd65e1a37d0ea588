import KubeServer
import NetCore
import PylonTestSupport
import Testing

/// Dual-stack Services as kube-apiserver handles them, driven with kubectl against a dual-stack `pylon server`
/// (10.43.0.0/16 primary, 2001:db8:43::/112 secondary).
@Suite(.timeLimit(.minutes(5))) struct ServiceIPFamilyTests {
    static let v4 = IPNetwork("10.43.0.0/16")!
    static let v6 = IPNetwork("2001:db8:43::/112")!

    /// A LoadBalancer Service manifest with extra `spec` lines.
    static func service(_ name: String, _ specLines: String...) -> String { service(name, specLines) }

    static func service(_ name: String, _ specLines: [String]) -> String {
        ([
            "apiVersion: v1", "kind: Service", "metadata: {name: \(name), namespace: default}", "spec:",
            "  type: LoadBalancer", "  ports: [{port: 80}]",
        ] + specLines.map { "  " + $0 }).joined(separator: "\n")
    }

    /// `clusterIPs` and `ipFamilies` of a Service, as kubectl prints them.
    static func families(_ server: TestAPIServer, _ name: String) async throws -> (ips: [IPAddress], families: String) {
        let out = try await server.kubectl(
            "get", "service", name, "-o", "jsonpath={.spec.clusterIPs[*]}|{.spec.ipFamilies[*]}|{.spec.clusterIP}")
        let parts = out.standardOutput.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3, "\(out.standardOutput) \(out.standardError)")
        let ips = parts[0].split(separator: " ").compactMap { IPAddress(String($0)) }
        #expect(ips.first?.description == parts[2], "clusterIP is clusterIPs[0]")
        return (ips, parts[1])
    }

    @Test func familiesAndClusterIPsFollowThePolicy() async throws {
        try await TestAPIServer.with { server, _ in
            let cases: [(String, [String], [IPNetwork], String)] = [
                ("plain", [], [Self.v4], "IPv4"),
                ("v6-only", ["ipFamilies: [IPv6]"], [Self.v6], "IPv6"),
                ("prefer", ["ipFamilyPolicy: PreferDualStack"], [Self.v4, Self.v6], "IPv4 IPv6"),
                (
                    "require-v6-first", ["ipFamilyPolicy: RequireDualStack", "ipFamilies: [IPv6, IPv4]"],
                    [Self.v6, Self.v4], "IPv6 IPv4"
                ),
                ("fixed-v6", ["clusterIP: 2001:db8:43::77"], [Self.v6], "IPv6"),
            ]
            for (name, lines, networks, families) in cases {
                let yaml = Self.service(name, lines)
                let applied = try await server.kubectl("apply", "-f", "-", input: yaml)
                #expect(applied.status == 0, "\(name): \(applied.standardError)")
                let got = try await Self.families(server, name)
                #expect(got.families == families, "\(name)")
                #expect(got.ips.count == networks.count, "\(name): \(got.ips)")
                for (ip, network) in zip(got.ips, networks) { #expect(network.contains(ip), "\(name): \(ip)") }
            }
            #expect(try await Self.families(server, "fixed-v6").ips.first?.description == "2001:db8:43::77")

            // Upgrading to dual-stack adds the secondary family and keeps the primary address.
            let before = try await Self.families(server, "plain")
            let upgraded = try await server.kubectl(
                "patch", "service", "plain", "--type", "merge", "-p", #"{"spec":{"ipFamilyPolicy":"PreferDualStack"}}"#)
            #expect(upgraded.status == 0, "\(upgraded.standardError)")
            let after = try await Self.families(server, "plain")
            #expect(after.families == "IPv4 IPv6")
            #expect(after.ips.first == before.ips.first)
            try #require(after.ips.count == 2 && Self.v6.contains(after.ips[1]), "\(after.ips)")

            // Downgrading releases the secondary address: another Service can then take exactly that one.
            let downgraded = try await server.kubectl(
                "patch", "service", "plain", "--type", "merge", "-p",
                #"{"spec":{"ipFamilyPolicy":"SingleStack","ipFamilies":["IPv4"],"clusterIPs":["\#(before.ips[0])"]}}"#
            )
            #expect(downgraded.status == 0, "\(downgraded.standardError)")
            #expect(try await Self.families(server, "plain").ips == [before.ips[0]])
            let reuse = try await server.kubectl(
                "apply", "-f", "-", input: Self.service("reuse", "clusterIP: \"\(after.ips[1])\""))
            #expect(reuse.status == 0, "\(reuse.standardError)")

            // Deleting releases every address the Service held.
            let prefer = try await Self.families(server, "prefer")
            _ = try await server.kubectl("delete", "service", "prefer")
            let again = try await server.kubectl(
                "apply", "-f", "-",
                input: Self.service(
                    "prefer-again", "ipFamilyPolicy: PreferDualStack",
                    "clusterIPs: [\"\(prefer.ips[0])\", \"\(prefer.ips[1])\"]"))
            #expect(again.status == 0, "\(again.standardError)")
            #expect(try await Self.families(server, "prefer-again").ips == prefer.ips)
        }
    }

    @Test func invalidFamiliesAreRejectedWithTheField() async throws {
        try await TestAPIServer.with { server, _ in
            let cases: [([String], String)] = [
                (["ipFamilies: [IPv5]"], "spec.ipFamilies[0]: Unsupported value: \"IPv5\""),
                (["ipFamilyPolicy: Sometimes"], "spec.ipFamilyPolicy: Unsupported value: \"Sometimes\""),
                (["ipFamilies: [IPv6]", "clusterIP: 10.43.0.50"], "spec.clusterIPs[0]: Invalid value: \"10.43.0.50\""),
                (["clusterIP: 10.44.0.1"], "is not in the valid range"),
                (["ipFamilies: [IPv4, IPv4]", "ipFamilyPolicy: PreferDualStack"], "spec.ipFamilies[1]: Duplicate"),
                (
                    ["ipFamilyPolicy: SingleStack", "clusterIPs: [10.43.0.60, \"2001:db8:43::60\"]"],
                    "may only hold 1 value(s)"
                ),
            ]
            for (lines, message) in cases {
                let result = try await server.kubectl("apply", "-f", "-", input: Self.service("bad", lines))
                #expect(result.status != 0, "\(lines)")
                #expect(result.standardError.contains(message), "\(lines): \(result.standardError)")
            }
            _ = try await server.kubectl("apply", "-f", "-", input: Self.service("v4", []))
            let flip = try await server.kubectl(
                "patch", "service", "v4", "--type", "merge", "-p", #"{"spec":{"ipFamilies":["IPv6"]}}"#)
            #expect(
                flip.standardError.contains("spec.ipFamilies[0]: Invalid value: \"IPv6\": field is immutable"),
                "\(flip.standardError)")
        }
    }

    @Test func singleStackServerRefusesDualStack() async throws {
        let server = try await TestAPIServer.start(serviceCIDRs: [Self.v4])
        do {
            let require = try await server.kubectl(
                "apply", "-f", "-", input: Self.service("dual", "ipFamilyPolicy: RequireDualStack"))
            #expect(
                require.standardError.contains("this cluster is not configured for dual-stack services"),
                "\(require.standardError)")
            let v6 = try await server.kubectl("apply", "-f", "-", input: Self.service("six", "ipFamilies: [IPv6]"))
            #expect(v6.standardError.contains("not configured on this cluster"), "\(v6.standardError)")
            let prefer = try await server.kubectl(
                "apply", "-f", "-", input: Self.service("prefer", "ipFamilyPolicy: PreferDualStack"))
            #expect(prefer.status == 0, "PreferDualStack falls back to one family: \(prefer.standardError)")
            #expect(try await Self.families(server, "prefer").families == "IPv4")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func serviceCIDRFlagParsing() throws {
        #expect(try APIServer.Configuration.parseServiceCIDRs("10.43.0.0/16") == [Self.v4])
        #expect(try APIServer.Configuration.parseServiceCIDRs("2001:db8:43::/112,10.43.0.0/16") == [Self.v6, Self.v4])
        for bad in ["10.43.0.0/16,10.44.0.0/16", "10.43.0.0", "", "10.43.0.0/16,2001:db8::/64,10.1.0.0/16"] {
            #expect(throws: APIServer.InvalidServiceCIDRs.self, "\(bad)") {
                try APIServer.Configuration.parseServiceCIDRs(bad)
            }
        }
    }
}
