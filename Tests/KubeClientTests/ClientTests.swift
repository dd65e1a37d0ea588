import KubeAPI
import KubeClient
import OrderedCollections
import PylonTestSupport
import Testing

@Suite(.timeLimit(.minutes(5))) struct ClientTests {
    static func configMap(_ name: String, labels: [String: String] = [:], data: JSON = [:]) -> JSON {
        var labelObject = JSONObject()
        for (k, v) in labels { labelObject[k] = .string(v) }
        return [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": .string(name), "labels": .object(labelObject)], "data": data,
        ]
    }

    @Test func verbsPagingSelectorsAndErrors() async throws {
        try await TestAPIServer.with { server, client in
            for i in 0..<25 {
                _ = try await client.create(
                    .configMaps, namespace: "default",
                    Self.configMap("cm-\(i)", labels: ["parity": i % 2 == 0 ? "even" : "odd"]))
            }
            let page = try await client.list(.configMaps, namespace: "default", limit: 10)
            #expect(page["items"]?.arrayValue?.count == 10)
            #expect(page["metadata"]?["continue"]?.stringValue?.isEmpty == false)
            let all = try await client.listAll(.configMaps, namespace: "default", pageSize: 7)
            #expect(Set(all.items.compactMap { $0["metadata"]?["name"]?.stringValue }).count == 25)
            let even = try await client.listAll(.configMaps, namespace: "default", labelSelector: "parity=even")
            #expect(even.items.count == 13)
            let byName = try await client.listAll(
                .configMaps, namespace: "default", fieldSelector: "metadata.name=cm-3")
            #expect(byName.items.count == 1)

            var cm = try await client.get(.configMaps, namespace: "default", name: "cm-1")
            cm["data"] = ["k": "v"]
            let updated = try await client.update(.configMaps, cm)
            #expect(updated["data"]?["k"] == "v")
            // A stale resourceVersion.
            await #expect(throws: Status.self) { _ = try await client.update(.configMaps, cm) }
            do {
                _ = try await client.update(.configMaps, cm)
            } catch let status as Status {
                #expect(status.code == 409)
                #expect(status.reason == "Conflict")
            }
            let patched = try await client.patch(
                .configMaps, namespace: "default", name: "cm-1", [["op": "replace", "path": "/data/k", "value": "w"]],
                type: .json)
            #expect(patched["data"]?["k"] == "w")

            let svc: JSON = [
                "apiVersion": "v1", "kind": "Service", "metadata": ["name": "lb"],
                "spec": ["type": "LoadBalancer", "ports": [["port": 80]]],
            ]
            _ = try await client.create(.services, namespace: "default", svc)
            let withStatus = try await client.patch(
                .services, namespace: "default", name: "lb",
                ["status": ["loadBalancer": ["ingress": [["ip": "192.0.2.100", "ipMode": "VIP"]]]]],
                subresource: "status")
            #expect(withStatus["status"]?["loadBalancer"]?["ingress"]?.arrayValue?.first?["ip"] == "192.0.2.100")
            let ignored = try await client.patch(
                .services, namespace: "default", name: "lb", ["status": ["loadBalancer": ["ingress": []]]])
            #expect(
                ignored["status"]?["loadBalancer"]?["ingress"]?.arrayValue?.count == 1, "main resource ignores status")

            try await client.delete(.configMaps, namespace: "default", name: "cm-1")
            do {
                _ = try await client.get(.configMaps, namespace: "default", name: "cm-1")
                Issue.record("deleted object still readable")
            } catch let status as Status {
                #expect(status.code == 404 && status.reason == "NotFound")
            }
        }
    }

    @Test func watchStreamsChangesAndBookmarksAndExpires() async throws {
        try await TestAPIServer.with(historyLimit: 5) { server, client in
            let start = try await client.list(.configMaps, namespace: "default")["metadata"]?["resourceVersion"]?
                .stringValue
            _ = try await client.create(.configMaps, namespace: "default", Self.configMap("w", data: ["a": "1"]))
            _ = try await client.patch(.configMaps, namespace: "default", name: "w", ["data": ["a": "2"]])
            try await client.delete(.configMaps, namespace: "default", name: "w")
            var seen: [String] = []
            for try await event in client.watch(
                .configMaps, namespace: "default", resourceVersion: start, timeoutSeconds: 5)
            {
                if event.kind == .bookmark { continue }
                seen.append("\(event.kind.rawValue):\(event.object["data"]?["a"]?.stringValue ?? "")")
                if seen.count == 3 { break }
            }
            #expect(seen == ["ADDED:1", "MODIFIED:2", "DELETED:2"])

            for i in 0..<10 {
                _ = try await client.create(.configMaps, namespace: "default", Self.configMap("fill-\(i)"))
            }
            do {
                for try await _ in client.watch(
                    .configMaps, namespace: "default", resourceVersion: start, timeoutSeconds: 5)
                {}
                Issue.record("a watch from a compacted revision must fail")
            } catch let status as Status {
                #expect(status.code == 410)
                #expect(status.reason == "Expired")
            }
        }
    }

    @Test func eventRecorderAggregatesRepeats() async throws {
        try await TestAPIServer.with { server, client in
            let svc = try await client.create(
                .services, namespace: "default",
                ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"], "spec": ["ports": [["port": 80]]]])
            let recorder = EventRecorder(client: client, component: "pylon-controller")
            for _ in 0..<5 {
                await recorder.record(svc, type: "Warning", reason: "AllocationFailed", message: "no available IPs")
            }
            await recorder.record(svc, type: "Normal", reason: "IPAllocated", message: "Assigned IP [\"192.0.2.100\"]")
            let events = try await client.listAll(
                .events, namespace: "default", fieldSelector: "involvedObject.name=web,involvedObject.kind=Service"
            ).items
            #expect(events.count == 2)
            let failed = try #require(events.first { $0["reason"] == "AllocationFailed" })
            #expect(failed["count"]?.intValue == 5)
            #expect(failed["source"]?["component"] == "pylon-controller")
            let describe = try await server.kubectl("describe", "svc", "web")
            #expect(describe.standardOutput.contains("AllocationFailed"), "\(describe.standardOutput)")
            #expect(describe.standardOutput.contains("(x5 over"), "kubectl shows the aggregated count")
        }
    }

    @Test func eventRecorderSpamFilterStopsAFloodFromOneObjectOnly() async throws {
        try await TestAPIServer.with { _, client in
            func service(_ name: String) async throws -> JSON {
                try await client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)],
                        "spec": ["ports": [["port": 80]]],
                    ])
            }
            let noisy = try await service("noisy")
            let quiet = try await service("quiet")
            let recorder = EventRecorder(client: client, component: "pylon-controller")
            // 30 different events: the burst of 25 passes, the rest is dropped; another object is not affected.
            for i in 0..<30 {
                await recorder.record(noisy, type: "Warning", reason: "AllocationFailed", message: "attempt \(i)")
            }
            await recorder.record(
                quiet, type: "Normal", reason: "IPAllocated", message: "Assigned IP [\"192.0.2.100\"]")
            func events(_ name: String) async throws -> Int {
                try await client.listAll(.events, namespace: "default", fieldSelector: "involvedObject.name=\(name)")
                    .items.count
            }
            #expect(try await events("noisy") == 25)
            #expect(try await events("quiet") == 1)
        }
    }
}
