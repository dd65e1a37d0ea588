import Foundation
import KubeAPI
import KubeClient
import PylonTestSupport
import Synchronization
import Testing

/// `kill -9` during a bounded write storm loses no acknowledged write; revisions keep growing; informers resume.
@Suite(.timeLimit(.minutes(5))) struct DurabilityTests {
    final class Acked: Sendable {
        let names = Mutex<[String: Int64]>([:])
    }

    @Test func killNineDuringWriteStorm() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-kill-\(UUID().uuidString)")
            .path
        let port = try await PylonBinary.freePort()
        var server = try await PylonBinary.startServer(dataDirectory: directory, port: port)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try KubeConfigLoader(environment: [:]).load(kubeconfig: directory + "/kubeconfig.yaml")
        var fast = configuration
        fast.qps = 0
        let client = try KubeClient(configuration: fast)
        let informer = Informer(client: client, resource: .configMaps, namespace: "default", watchTimeoutSeconds: 30)
        let running = Task { try await informer.run() }
        do {
            await informer.waitForSync()
            let acked = Acked()
            let storm = Task {
                await withTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            for i in 0..<2_000 {
                                let name = "w-\(writer)-\(i)"
                                let cm: JSON = [
                                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)],
                                    "data": ["i": .string(String(i))],
                                ]
                                guard let created = try? await client.create(.configMaps, namespace: "default", cm)
                                else { return }
                                let rv = Int64(created["metadata"]?["resourceVersion"]?.stringValue ?? "0") ?? 0
                                acked.names.withLock { $0[name] = rv }
                            }
                        }
                    }
                }
            }
            try await eventually("writes acknowledged") { acked.names.withLock { $0.count } >= 400 }
            server.kill()
            await storm.value
            let before = acked.names.withLock { $0 }
            #expect(before.count < 16_000, "the storm was cut short by the kill")

            server = try await PylonBinary.startServer(dataDirectory: directory, port: port)
            let stored = try await client.listAll(.configMaps, namespace: "default")
            let storedNames = Set(stored.items.compactMap { $0["metadata"]?["name"]?.stringValue })
            let lost = before.keys.filter { !storedNames.contains($0) }
            #expect(lost.isEmpty, "acknowledged writes lost: \(lost.prefix(5))")

            let next = try await client.create(
                .configMaps, namespace: "default",
                ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "after-restart"]])
            let nextRV = Int64(next["metadata"]?["resourceVersion"]?.stringValue ?? "0") ?? 0
            #expect(nextRV > before.values.max() ?? 0, "resourceVersions only grow")

            try await eventually("informer resumed and converged", timeout: .seconds(30)) {
                informer.list().count == stored.items.count + 1
                    && informer.get(namespace: "default", name: "after-restart") != nil
            }
        } catch {
            running.cancel()
            try? await client.shutdown()
            server.kill()
            throw error
        }
        running.cancel()
        _ = try? await running.value
        try await client.shutdown()
        await server.stop()
    }
}
