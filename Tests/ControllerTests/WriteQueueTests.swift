import Controller
import KubeAPI
import NetCore
import Testing

/// The write ordering rules, without I/O.
@Suite struct WriteQueueTests {
    static func service(_ name: String, holding ips: [String] = []) -> JSON {
        [
            "metadata": ["name": .string(name), "namespace": "default"],
            "status": ["loadBalancer": ["ingress": .array(ips.map { ["ip": .string($0)] })]],
        ]
    }

    static func job(_ name: String, holding: [String] = [], to ips: [String]?, note: String? = nil) -> WriteQueue.Job {
        .init(
            key: "default/\(name)", service: service(name, holding: holding),
            target: ips.map { .init(ips: $0.map { IPAddress($0)! }, pool: $0.isEmpty ? nil : "p") },
            notes: note.map { [.init(type: "Normal", reason: $0, message: $0)] } ?? [])
    }

    @Test func oneWritePerServiceAndNewerDecisionsReplaceQueuedOnes() {
        var q = WriteQueue()
        q.submit(Self.job("a", to: ["192.0.2.1"], note: "first"))
        let running = q.next()
        #expect(running?.key == "default/a")
        q.submit(Self.job("a", to: ["192.0.2.2"], note: "second"))
        q.submit(Self.job("a", to: ["192.0.2.3"], note: "third"))
        #expect(q.next() == nil, "a is still running")
        #expect(q.pendingTarget(for: "default/a")?.ips == [IPAddress("192.0.2.3")!])
        q.finish("default/a")
        let merged = q.next()
        #expect(merged?.target?.ips == [IPAddress("192.0.2.3")!], "the newest decision wins")
        #expect(merged?.notes.map(\.reason) == ["second", "third"], "notes accumulate in order")
        q.finish("default/a")
        #expect(q.isIdle)
    }

    @Test func submissionOrderAcrossServices() {
        var q = WriteQueue()
        for name in ["a", "b", "c"] { q.submit(Self.job(name, to: ["192.0.2.\(name.unicodeScalars.first!.value)"])) }
        #expect([q.next()?.key, q.next()?.key, q.next()?.key] == ["default/a", "default/b", "default/c"])
        #expect(q.count == 3)
    }

    @Test func takingAnAddressWaitsForItsReleaseToBeWritten() {
        var q = WriteQueue()
        q.submit(Self.job("old", holding: ["192.0.2.9"], to: ["192.0.2.10"]))
        q.submit(Self.job("new", to: ["192.0.2.9"]))
        q.submit(Self.job("other", to: ["192.0.2.11"]))
        #expect(q.next()?.key == "default/old")
        #expect(q.next()?.key == "default/other", "new waits: 192.0.2.9 is still shown on old")
        #expect(q.next() == nil)
        q.finish("default/old")
        #expect(q.next()?.key == "default/new")
    }

    @Test func aFailedWriteIsRetriedUnlessSuperseded() {
        var q = WriteQueue()
        q.submit(Self.job("a", to: ["192.0.2.1"], note: "allocated"))
        _ = q.next()
        q.finish("default/a", failed: true)
        let retry = q.next()
        #expect(retry?.attempts == 1)
        #expect(retry?.notes.map(\.reason) == ["allocated"])
        q.submit(Self.job("a", to: [], note: "cleared"))
        q.finish("default/a", failed: true)
        let superseding = q.next()
        #expect(superseding?.target?.ips == [], "the failed stale write is not retried")
        #expect(superseding?.notes.map(\.reason) == ["allocated", "cleared"])
    }

    @Test func aCycleOfWaitingWritesStillProgresses() {
        var q = WriteQueue()
        q.submit(Self.job("a", holding: ["192.0.2.1"], to: ["192.0.2.2"]))
        q.submit(Self.job("b", holding: ["192.0.2.2"], to: ["192.0.2.1"]))
        #expect(q.next()?.key == "default/a", "nothing runs, so the oldest goes first")
        #expect(q.next() == nil, "b waits for a")
        q.finish("default/a")
        #expect(q.next()?.key == "default/b")
    }
}
