import KubeAPI
import KubeClient
import PylonTestSupport
import Synchronization
import Testing

/// Rebuilds the collection from informer notifications alone and counts notifications that contradict it
/// (an add for a known object, an update or delete for an unknown one).
final class Mirror: Sendable {
    private let state = Mutex<(objects: [String: String], violations: [String])>(([:], []))

    func apply(_ change: Informer.Change) {
        state.withLock { s in
            switch change {
            case .added(let o):
                let name = o["metadata"]?["name"]?.stringValue ?? ""
                if s.objects[name] != nil { s.violations.append("added twice: \(name)") }
                s.objects[name] = o["data"]?["v"]?.stringValue ?? ""
            case .updated(let old, let new):
                let name = new["metadata"]?["name"]?.stringValue ?? ""
                if s.objects[name] == nil { s.violations.append("update of unknown \(name)") }
                if old["metadata"]?["resourceVersion"] == new["metadata"]?["resourceVersion"] {
                    s.violations.append("no-op update \(name)")
                }
                s.objects[name] = new["data"]?["v"]?.stringValue ?? ""
            case .deleted(let o):
                let name = o["metadata"]?["name"]?.stringValue ?? ""
                if s.objects.removeValue(forKey: name) == nil { s.violations.append("delete of unknown \(name)") }
            }
        }
    }

    var objects: [String: String] { state.withLock { $0.objects } }
    var violations: [String] { state.withLock { $0.violations } }
}

@Suite(.timeLimit(.minutes(5))) struct InformerTests {
    static func cm(_ name: String, _ v: Int) -> JSON {
        [
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)],
            "data": ["v": .string(String(v))],
        ]
    }

    /// Applies a deterministic mix of creates, updates and deletes; returns the expected final contents.
    static func churn(_ client: KubeClient, round: Int, expected: inout [String: String]) async throws {
        for i in 0..<12 {
            let name = "obj-\(i)"
            if expected[name] == nil {
                _ = try await client.create(.configMaps, namespace: "default", cm(name, round))
                expected[name] = String(round)
            } else if (i + round) % 3 == 0 {
                try await client.delete(.configMaps, namespace: "default", name: name)
                expected[name] = nil
            } else {
                _ = try await client.patch(
                    .configMaps, namespace: "default", name: name, ["data": ["v": .string(String(round))]])
                expected[name] = String(round)
            }
        }
    }

    static func serverState(_ client: KubeClient) async throws -> [String: String] {
        var result: [String: String] = [:]
        for item in try await client.listAll(.configMaps, namespace: "default").items {
            result[item["metadata"]?["name"]?.stringValue ?? ""] = item["data"]?["v"]?.stringValue ?? ""
        }
        return result
    }

    @Test func survivesServerRestart() async throws {
        var server = try await TestAPIServer.start()
        let port = server.port
        let directory = server.dataDirectory
        let client = try server.client()
        let mirror = Mirror()
        let informer = Informer(client: client, resource: .configMaps, namespace: "default", watchTimeoutSeconds: 30)
        await informer.addHandler { mirror.apply($0) }
        let running = Task { try await informer.run() }
        do {
            var expected: [String: String] = [:]
            try await Self.churn(client, round: 1, expected: &expected)
            await informer.waitForSync()
            try await eventually("informer caught up before restart") { mirror.objects == expected }
            await server.stop(keepData: true)
            server = try await TestAPIServer.start(dataDirectory: directory, port: port)
            for round in 2...4 { try await Self.churn(client, round: round, expected: &expected) }
            #expect(try await Self.serverState(client) == expected)
            try await eventually("informer caught up after restart") { mirror.objects == expected }
            #expect(informer.watchCount >= 2, "the server's shutdown ended the first watch; a new one resumed")
            #expect(mirror.violations.isEmpty, "\(mirror.violations)")
            #expect(informer.list().count == expected.count)
        } catch {
            running.cancel()
            try? await client.shutdown()
            await server.stop()
            throw error
        }
        running.cancel()
        _ = try? await running.value
        try await client.shutdown()
        await server.stop()
    }

    /// Also for a compact informer (cache kept serialized), whose relist compares and delivers stored entries.
    @Test(arguments: [false, true]) func survivesWatchCutMidEventAndExpiredHistory(compact: Bool) async throws {
        let server = try await TestAPIServer.start(historyLimit: 8)
        let proxy = try await FaultProxy.start(targetPort: server.port)
        let direct = try server.client()
        var viaProxyConfiguration = direct.configuration
        viaProxyConfiguration.server = "https://127.0.0.1:\(proxy.port)"
        let viaProxy = try KubeClient(configuration: viaProxyConfiguration)
        let mirror = Mirror()
        let informer = Informer(
            client: viaProxy, resource: .configMaps, namespace: "default", watchTimeoutSeconds: 30, compact: compact)
        await informer.addHandler { mirror.apply($0) }
        let running = Task { try await informer.run() }
        do {
            var expected: [String: String] = [:]
            await informer.waitForSync()
            try await Self.churn(direct, round: 1, expected: &expected)
            try await eventually("informer synced through the proxy") { mirror.objects == expected }

            // Cut the watch in the middle of the next event.
            proxy.cut(afterBytes: 40)
            try await Self.churn(direct, round: 2, expected: &expected)
            try await eventually("the watch was cut") { informer.watchRestartCount >= 1 }
            proxy.disarm()
            try await eventually("informer recovered from a cut watch") { mirror.objects == expected }

            // Keep it disconnected while more changes than the history holds happen: it must relist (410).
            proxy.cut(afterBytes: 0)
            try await Task.sleep(for: .milliseconds(50))
            for round in 3...6 { try await Self.churn(direct, round: round, expected: &expected) }
            proxy.disarm()
            try await eventually("informer relisted after 410 Gone") { mirror.objects == expected }
            #expect(informer.listCount >= 2, "history was compacted while disconnected, so a relist was needed")
            #expect(mirror.violations.isEmpty, "\(mirror.violations)")
            // The cache itself (not only the notifications) holds the server's contents.
            let cached = informer.list {
                ($0["metadata"]?["name"]?.stringValue ?? "", $0["data"]?["v"]?.stringValue ?? "")
            }
            #expect(Dictionary(uniqueKeysWithValues: cached) == expected)
            for (name, value) in expected {
                #expect(informer.get(namespace: "default", name: name)?["data"]?["v"]?.stringValue == value)
            }
        } catch {
            running.cancel()
            try? await viaProxy.shutdown()
            try? await direct.shutdown()
            await proxy.stop()
            await server.stop()
            throw error
        }
        running.cancel()
        _ = try? await running.value
        try await viaProxy.shutdown()
        try await direct.shutdown()
        await proxy.stop()
        await server.stop()
    }

    @Test func leaderElectionHasOneLeaderAndHandsOver() async throws {
        try await TestAPIServer.with { _, client in
            let timing = LeaderElector.Timing(
                leaseDuration: .seconds(2), renewDeadline: .seconds(1), retryPeriod: .milliseconds(200))
            let a = LeaderElector(
                client: client, namespace: "default", name: "pylon-controller", identity: "a", timing: timing
            ) {
                try? await Task.sleep(for: .seconds(3600))
            }
            let b = LeaderElector(
                client: client, namespace: "default", name: "pylon-controller", identity: "b", timing: timing
            ) {
                try? await Task.sleep(for: .seconds(3600))
            }
            let runA = Task { try await a.run() }
            do {
                try await eventually("a leads") { a.isLeader }
                let runB = Task { try await b.run() }
                try await Task.sleep(for: .milliseconds(600))
                #expect(!b.isLeader, "b must not lead while a renews")
                let lease = try await client.get(.leases, namespace: "default", name: "pylon-controller")
                #expect(lease["spec"]?["holderIdentity"] == "a")
                runA.cancel()
                _ = try? await runA.value
                try await eventually("b takes over after a stops", timeout: .seconds(10)) { b.isLeader }
                #expect(!a.isLeader)
                let after = try await client.get(.leases, namespace: "default", name: "pylon-controller")
                #expect(after["spec"]?["holderIdentity"] == "b")
                #expect(after["spec"]?["leaseTransitions"]?.intValue == 1)
                runB.cancel()
                _ = try? await runB.value
            } catch {
                runA.cancel()
                throw error
            }
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct InformerIndexTests {
    @Test(arguments: [false, true]) func indexesFollowChanges(compact: Bool) async throws {
        try await TestAPIServer.with { _, client in
            let informer = Informer(
                client: client, resource: .configMaps, namespace: "default",
                indexers: ["team": { [$0["metadata"]?["labels"]?["team"]?.stringValue ?? ""] }], compact: compact)
            #expect(!informer.hasSynced)
            let running = Task { try await informer.run() }
            await informer.waitForSync()
            #expect(informer.hasSynced)
            for (name, team) in [("a", "red"), ("b", "red"), ("c", "blue")] {
                _ = try await client.create(
                    .configMaps, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": ["name": .string(name), "labels": ["team": .string(team)]],
                    ])
            }
            try await eventually("indexed") {
                informer.byIndex("team", "red").count == 2 && informer.byIndex("team", "blue").count == 1
            }
            _ = try await client.patch(
                .configMaps, namespace: "default", name: "b", ["metadata": ["labels": ["team": "blue"]]])
            try await client.delete(.configMaps, namespace: "default", name: "c")
            try await eventually("index updated") {
                informer.byIndex("team", "red").compactMap { $0["metadata"]?["name"]?.stringValue } == ["a"]
                    && informer.byIndex("team", "blue").compactMap { $0["metadata"]?["name"]?.stringValue } == ["b"]
            }
            running.cancel()
            _ = try? await running.value
        }
    }
}
