import Foundation
import KubeAPI
import Logging
import Testing

@testable import KubeServer

/// The store on its own: paged lists in key order while objects come and go, and watches receiving batches.
@Suite(.timeLimit(.minutes(2))) struct StorageTests {
    static func withStorage(watcherBuffer: Int = 50_000, _ body: (Storage) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pylon-storage-test-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storage = try Storage(
            directory: directory, watcherBuffer: watcherBuffer, logger: Logger(label: "storage-test"))
        do {
            try await body(storage)
        } catch {
            await storage.shutdown()
            throw error
        }
        await storage.shutdown()
    }

    static func key(_ namespace: String, _ name: String) -> ObjectKey {
        ObjectKey(prefix: "/configmaps", namespace: namespace, name: name)
    }

    static func put(_ storage: Storage, _ namespace: String, _ name: String, data: String = "") async throws {
        let object: JSON = [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": .string(name), "namespace": .string(namespace)], "data": ["v": .string(data)],
        ]
        _ = try await storage.write(key(namespace, name)) { _ in .put(object) }
    }

    static func delete(_ storage: Storage, _ namespace: String, _ name: String) async throws {
        _ = try await storage.write(key(namespace, name)) { _ in .delete }
    }

    /// Pages through the whole list, `limit` at a time; `between` runs after each page.
    static func pages(
        _ storage: Storage, limit: Int, namespace: String? = nil, between: (Int) async throws -> Void = { _ in }
    ) async throws -> (names: [String], remaining: [Int]) {
        var names: [String] = []
        var remaining: [Int] = []
        var start: (namespace: String, name: String)? = nil
        for page in 0..<1_000 {
            let filter = WatchFilter(prefix: "/configmaps", namespace: namespace)
            let result = storage.list(filter, after: start, limit: limit)
            names += result.items.map { "\($0.0.namespace)/\($0.0.name)" }
            remaining.append(result.remaining)
            guard result.remaining > 0, let last = result.items.last?.0 else { break }
            start = (last.namespace, last.name)
            try await between(page)
        }
        return (names, remaining)
    }

    @Test func pagesFollowNamespaceThenNameOrderWhileObjectsComeAndGo() async throws {
        try await Self.withStorage { storage in
            // "a-b" sorts after "a" as a namespace although "a-b/…" sorts before "a/…" as text.
            for (namespace, name) in [("b", "x"), ("a", "z"), ("a-b", "a"), ("a", "m"), ("b", "a"), ("a", "a")] {
                try await Self.put(storage, namespace, name)
            }
            let whole = try await Self.pages(storage, limit: 100)
            #expect(whole.names == ["a/a", "a/m", "a/z", "a-b/a", "b/a", "b/x"])
            #expect(whole.remaining == [0])

            let paged = try await Self.pages(storage, limit: 2)
            #expect(paged.names == whole.names)
            #expect(paged.remaining == [4, 2, 0])

            // Created after the first page: one ahead of the position is listed, one behind is not; a deleted object
            // not yet reached is not listed; an update changes nothing in the order.
            let moving = try await Self.pages(storage, limit: 2) { page in
                guard page == 0 else { return }
                try await Self.put(storage, "a", "b")
                try await Self.put(storage, "a-b", "b")
                try await Self.delete(storage, "b", "a")
                try await Self.put(storage, "b", "x", data: "changed")
            }
            #expect(moving.names == ["a/a", "a/m", "a/z", "a-b/a", "a-b/b", "b/x"])

            let inA = try await Self.pages(storage, limit: 2, namespace: "a")
            #expect(inA.names == ["a/a", "a/b", "a/m", "a/z"])
            #expect(inA.remaining == [2, 0])
            #expect(try await Self.pages(storage, limit: 2, namespace: "c").names.isEmpty)
        }
    }

    @Test func aWatchReceivesEveryChangeInOrderInBatches() async throws {
        try await Self.withStorage { storage in
            let (events, id, _) = try storage.watch(WatchFilter(prefix: "/configmaps"), from: nil)
            let writes = 200
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<writes {
                    group.addTask { try await Self.put(storage, "default", "cm-\(i % 20)", data: "\(i)") }
                }
                try await group.waitForAll()
            }
            var revisions: [Int64] = []
            var batches = 0
            for try await batch in events {
                #expect(!batch.isEmpty)
                batches += 1
                revisions += batch.map(\.object.revision)
                if revisions.count >= writes { break }
            }
            storage.stopWatch(id)
            #expect(revisions.count == writes)
            #expect(revisions == revisions.sorted(), "events arrive in revision order")
            #expect(Set(revisions).count == writes)
            #expect(batches <= writes)
        }
    }

    @Test func aWatchTooFarBehindIsEndedAndOthersGoOn() async throws {
        try await Self.withStorage(watcherBuffer: 5) { storage in
            let (slow, slowID, _) = try storage.watch(WatchFilter(prefix: "/configmaps"), from: nil)
            let (other, otherID, _) = try storage.watch(WatchFilter(prefix: "/configmaps"), from: nil)
            var seen = 0
            for i in 0..<6 {
                try await Self.put(storage, "default", "cm-\(i)")
                for try await batch in other {
                    seen += batch.count
                    break
                }
            }
            #expect(seen == 6)
            await #expect(throws: Storage.WatcherTooSlow.self) {
                for try await _ in slow {}
            }
            storage.stopWatch(slowID)
            storage.stopWatch(otherID)
            var afterStop = 0
            for try await batch in other { afterStop += batch.count }
            #expect(afterStop == 0, "a stopped watch ends")
        }
    }

    @Test func aWatchWaitingForEventsEndsWhenItsTaskIsCancelled() async throws {
        try await Self.withStorage { storage in
            let (events, id, _) = try storage.watch(WatchFilter(prefix: "/configmaps"), from: nil)
            let waiting = Task {
                var count = 0
                for try await batch in events { count += batch.count }
                return count
            }
            waiting.cancel()
            #expect(try await waiting.value == 0)
            storage.stopWatch(id)
        }
    }
}
