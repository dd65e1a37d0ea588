import PylonTestSupport
import Testing

/// `spec.healthCheckNodePort` as kube-apiserver keeps it, driven with kubectl: allocated for LoadBalancer Services
/// with `externalTrafficPolicy: Local`, immutable while needed, released and cleared when not, refused elsewhere.
@Suite(.timeLimit(.minutes(5))) struct HealthCheckNodePortTests {
    static func port(_ server: TestAPIServer, _ name: String) async throws -> Int? {
        let out = try await server.kubectl("get", "service", name, "-o", "jsonpath={.spec.healthCheckNodePort}")
        #expect(out.status == 0, "\(out.standardError)")
        return Int(out.standardOutput)
    }

    @Test func aLocalLoadBalancerGetsOneThatIsKeptAndReleased() async throws {
        try await TestAPIServer.with { server, _ in
            let local = ServiceIPFamilyTests.service("local", "externalTrafficPolicy: Local")
            #expect(try await server.kubectl("apply", "-f", "-", input: local).status == 0)
            let allocated = try #require(try await Self.port(server, "local"))
            #expect((30000...32767).contains(allocated))
            // A Cluster-policy one has none.
            _ = try await server.kubectl("apply", "-f", "-", input: ServiceIPFamilyTests.service("cluster"))
            #expect(try await Self.port(server, "cluster") == nil)

            // Applied again without the field: kept. Changed: refused.
            #expect(try await server.kubectl("apply", "-f", "-", input: local).status == 0)
            #expect(try await Self.port(server, "local") == allocated)
            let other = allocated == 30000 ? 30001 : allocated - 1
            let changed = try await server.kubectl(
                "patch", "service", "local", "--type", "merge", "-p", #"{"spec":{"healthCheckNodePort":\#(other)}}"#)
            #expect(changed.status != 0)
            #expect(
                changed.standardError.contains(
                    #"The Service "local" is invalid: spec.healthCheckNodePort: Forbidden: field is immutable"#),
                "\(changed.standardError)")

            // Another Service asking for the same port is refused; a ClusterIP Service may not have one.
            let taken = try await server.kubectl(
                "apply", "-f", "-",
                input: ServiceIPFamilyTests.service(
                    "second", "externalTrafficPolicy: Local", "healthCheckNodePort: \(allocated)"))
            #expect(
                taken.standardError.contains(
                    "spec.healthCheckNodePort: Invalid value: \(allocated): provided port is already allocated"),
                "\(taken.standardError)")
            let clusterIP = try await server.kubectl(
                "apply", "-f", "-",
                input: """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: plain, namespace: default}
                    spec: {ports: [{port: 80}], healthCheckNodePort: 31999}
                    """)
            #expect(
                clusterIP.standardError.contains(
                    "spec.healthCheckNodePort: Invalid value: 31999: may only be set when `type` is 'LoadBalancer' "
                        + "and `externalTrafficPolicy` is 'Local'"), "\(clusterIP.standardError)")

            // Switched to Cluster policy: cleared and released (another Service may take it now).
            let switched = try await server.kubectl(
                "patch", "service", "local", "--type", "merge", "-p", #"{"spec":{"externalTrafficPolicy":"Cluster"}}"#)
            #expect(switched.status == 0, "\(switched.standardError)")
            #expect(try await Self.port(server, "local") == nil)
            #expect(
                try await server.kubectl(
                    "apply", "-f", "-",
                    input: ServiceIPFamilyTests.service(
                        "second", "externalTrafficPolicy: Local", "healthCheckNodePort: \(allocated)")
                ).status == 0)
            #expect(try await Self.port(server, "second") == allocated)

            // Deleted: released again.
            #expect(try await server.kubectl("delete", "service", "second").status == 0)
            #expect(
                try await server.kubectl(
                    "apply", "-f", "-",
                    input: ServiceIPFamilyTests.service(
                        "third", "externalTrafficPolicy: Local", "healthCheckNodePort: \(allocated)")
                ).status == 0)
        }
    }
}
