import Announcement
import Controller
import KubeAPI
import KubeClient
import PylonTestSupport
import Testing

/// Restart safety at scale: 10,000 assigned Services, a controller restart writes none of them.
@Suite(.timeLimit(.minutes(10))) struct ControllerScaleTests {
    static let count = 10_000

    @Test func restartWith10000AssignedServicesWritesNothing() async throws {
        try await TestAPIServer.with { server, client in
            #expect(
                try await server.kubectl("apply", "-k", ControllerIntegrationTests.path("deploy/crds/")).status == 0)
            _ = try await server.kubectl("create", "namespace", "pylon-system")
            let pool = """
                apiVersion: metallb.io/v1beta1
                kind: IPAddressPool
                metadata: {name: big, namespace: pylon-system}
                spec: {addresses: ["2001:db8:1::/112"]}
                """
            #expect(try await server.kubectl("apply", "-f", "-", input: pool).status == 0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for i in stride(from: worker, to: Self.count, by: 16) {
                            _ = try await client.create(
                                .services, namespace: "default",
                                [
                                    "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string("lb-\(i)")],
                                    "spec": [
                                        "type": "LoadBalancer", "ipFamilies": ["IPv6"],
                                        "allocateLoadBalancerNodePorts": false,
                                        "ports": [["name": "http", "port": 80]],
                                    ],
                                ])
                        }
                    }
                }
                try await group.waitForAll()
            }

            let first = LoadBalancerController(client: client, options: .init())
            var run = Task { await first.runLoop() }
            do {
                try await eventually("all assigned", timeout: .seconds(300)) { await first.isIdle() }
                let items = try await client.listAll(.services, namespace: "default").items
                let ips = items.flatMap { ServiceReading.statusIPs($0) }
                #expect(ips.count == Self.count)
                #expect(Set(ips).count == Self.count, "no address handed out twice")
                var versions: [String: String] = [:]
                for item in items {
                    versions[item.namespacedName] = item["metadata"]?["resourceVersion"]?.stringValue
                }
                run.cancel()
                await run.value

                let second = LoadBalancerController(client: client, options: .init())
                run = Task { await second.runLoop() }
                try await eventually("the restarted controller is synced and idle", timeout: .seconds(120)) {
                    await second.isIdle()
                }
                let after = try await client.listAll(.services, namespace: "default").items
                let rewritten = after.filter {
                    versions[$0.namespacedName] != $0["metadata"]?["resourceVersion"]?.stringValue
                }
                #expect(after.count == versions.count)
                #expect(rewritten.isEmpty, "\(rewritten.count) Services were written by the restart")
            } catch {
                run.cancel()
                await run.value
                throw error
            }
            run.cancel()
            await run.value
        }
    }
}
