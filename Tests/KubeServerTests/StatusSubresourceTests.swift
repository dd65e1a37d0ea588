import KubeAPI
import KubeClient
import PylonTestSupport
import Testing

/// What an update through `/status` may change, as kube-apiserver decides it.
@Suite(.timeLimit(.minutes(5))) struct StatusSubresourceTests {
    @Test func builtInStatusKeepsMetadataChangesAndResetsSpec() async throws {
        try await TestAPIServer.with { server, client in
            _ = try await server.kubectl(
                "create", "service", "loadbalancer", "web", "--tcp", "80:8080")
            let patched = try await client.patch(
                .services, namespace: "default", name: "web",
                [
                    "metadata": ["annotations": ["example.com/note": "kept"]],
                    "spec": ["type": "ClusterIP"],
                    "status": ["loadBalancer": ["ingress": [["ip": "192.0.2.10", "ipMode": "VIP"]]]],
                ], subresource: "status")
            #expect(patched["metadata"]?["annotations"]?["example.com/note"]?.stringValue == "kept")
            #expect(patched["spec"]?["type"]?.stringValue == "LoadBalancer", "spec is reset")
            let shown = try await server.kubectl(
                "get", "svc", "web", "-o",
                "jsonpath={.status.loadBalancer.ingress[0].ip} {.metadata.annotations.example\\.com/note}")
            #expect(shown.standardOutput == "192.0.2.10 kept")
        }
    }

    @Test func customResourceStatusChangesOnlyStatus() async throws {
        try await TestAPIServer.with { server, client in
            #expect(try await server.kubectl("apply", "-k", KubectlTests.path("deploy/crds/")).status == 0)
            _ = try await server.kubectl("create", "namespace", "pylon-system")
            let pools = Resource.ipAddressPools
            try await eventually("CRD served") { (try? await client.list(pools, namespace: "pylon-system")) != nil }
            _ = try await client.create(
                pools, namespace: "pylon-system",
                [
                    "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": ["name": "p"],
                    "spec": ["addresses": ["192.0.2.0/28"]],
                ])
            let patched = try await client.patch(
                pools, namespace: "pylon-system", name: "p",
                ["metadata": ["annotations": ["example.com/note": "ignored"]], "status": ["assignedIPv4": 3]],
                subresource: "status")
            #expect(patched["status"]?["assignedIPv4"]?.intValue == 3)
            #expect(patched["metadata"]?["annotations"]?["example.com/note"] == nil)
        }
    }
}
