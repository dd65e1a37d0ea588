import Announcement
import DequeModule
import KubeAPI
import KubeClient
import Logging
import Metrics
import NetCore

/// Carries out the controller's decisions: writes Services' pool annotation and `status.loadBalancer`, then
/// records their Events, with bounded concurrency and the ordering rules of `WriteQueue`.
///
/// Status writes come first: a job's Events are recorded once its status write succeeded, by a worker that finds no
/// status write ready to start. In steady state that is at once; after a burst (a restart with thousands of
/// pending Services, a pool change moving many) every address is written before the Events catch up.
///
/// Isolation: an actor owning the queue; the writes themselves run on the worker tasks started by `run()`.
/// A write that fails is retried with exponential backoff (100 ms doubling to 10 s) until it succeeds, the Service
/// is gone (404), or a newer decision supersedes it; failures are logged and counted, never dropped silently.
actor ServiceWriter {
    /// What a worker does next.
    private enum Work: Sendable {
        /// Write a Service's status, then hand its notes back.
        case write(WriteQueue.Job)
        /// Record the Events of a job whose status write (if any) is done.
        case record(service: JSON, notes: [WriteQueue.Note])
    }

    private var queue = WriteQueue()
    /// Events of finished writes, oldest first.
    private var notes: Deque<(service: JSON, notes: [WriteQueue.Note])> = []
    private var waiting: [CheckedContinuation<Work?, Never>] = []
    private var closed = false
    /// Status written by finished jobs, with the resourceVersion the write produced, until the informer shows it.
    private var written: [String: (target: WriteQueue.Target, resourceVersion: UInt64)] = [:]
    private let client: KubeClient
    private let recorder: EventRecorder
    private let logger: Logger

    init(client: KubeClient, recorder: EventRecorder, logger: Logger) {
        self.client = client
        self.recorder = recorder
        self.logger = logger
    }

    /// Whether nothing is queued or being written, Events included.
    var isIdle: Bool { queue.isIdle && notes.isEmpty && recording == 0 }

    /// Event batches being recorded now.
    private var recording = 0

    private var pendingCount: Int { queue.count + notes.count + recording }

    /// Whether a write for `key` is queued or running.
    func hasWork(for key: String) -> Bool { queue.hasWork(for: key) }

    /// What `key`'s status is about to show or already shows although the cached `resourceVersion` predates it:
    /// the pending decision's target, or a finished write the informer has not delivered yet. `nil` when the
    /// cached object is current.
    func expected(for key: String, resourceVersion: String?) -> WriteQueue.Target? {
        if let target = queue.pendingTarget(for: key) { return target }
        guard let record = written[key] else { return nil }
        if let seen = resourceVersion.flatMap(UInt64.init), seen < record.resourceVersion { return record.target }
        written[key] = nil
        if written.isEmpty { written = [:] }
        return nil
    }

    /// Drops what is remembered about a deleted Service.
    func forget(_ key: String) { written[key] = nil }

    func submit(_ job: WriteQueue.Job) {
        queue.submit(job)
        Gauge(label: "pylon_controller_pending_writes").record(pendingCount)
        dispatch()
    }

    /// Runs `workers` concurrent writers until the calling task is cancelled.
    nonisolated func run(workers: Int) async {
        Gauge(label: "pylon_controller_pending_writes").record(await pendingCount)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while let task = await self.take() {
                        switch task {
                        case .write(let job):
                            let outcome = await self.perform(job)
                            await self.finish(job, outcome)
                        case .record(let service, let notes):
                            for note in notes {
                                await self.recorder.record(
                                    service, type: note.type, reason: note.reason, message: note.message)
                            }
                            await self.recorded()
                        }
                    }
                }
            }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                Task { await self.close() }
            }
        }
    }

    private func take() async -> Work? {
        if closed { return nil }
        if let work = nextWork() { return work }
        return await withCheckedContinuation { waiting.append($0) }
    }

    /// A ready status write, else the oldest Events to record.
    private func nextWork() -> Work? {
        if let job = queue.next() { return .write(job) }
        guard let (service, notes) = notes.popFirst() else { return nil }
        recording += 1
        return .record(service: service, notes: notes)
    }

    private func finish(_ job: WriteQueue.Job, _ outcome: Outcome) {
        queue.finish(job.key, failed: outcome == .failed)
        if case .written(let version) = outcome {
            if let target = job.target, let version { written[job.key] = (target, version) }
            if !job.notes.isEmpty { notes.append((job.service, job.notes)) }
        }
        Gauge(label: "pylon_controller_pending_writes").record(pendingCount)
        dispatch()
        releaseCapacityWhenIdle()
    }

    private func recorded() {
        recording -= 1
        Gauge(label: "pylon_controller_pending_writes").record(pendingCount)
        dispatch()
        releaseCapacityWhenIdle()
    }

    /// Collections keep the capacity of their largest size; after a burst of thousands of writes the empty queues
    /// are replaced, so the memory goes back to the heap.
    private func releaseCapacityWhenIdle() {
        guard isIdle else { return }
        queue = WriteQueue()
        notes = []
    }

    private func dispatch() {
        while !waiting.isEmpty, let work = nextWork() { waiting.removeFirst().resume(returning: work) }
    }

    private func close() {
        closed = true
        for waiter in waiting { waiter.resume(returning: nil) }
        waiting.removeAll()
    }

    private enum Outcome: Equatable {
        /// Done; the resourceVersion the status write produced, when there was one and it is numeric.
        case written(UInt64?)
        /// The Service no longer exists: nothing to write, no Event to record about it.
        case gone
        /// Failed; the backoff has been waited out and the job must be queued again.
        case failed
    }

    /// Writes one job.
    private nonisolated func perform(_ job: WriteQueue.Job) async -> Outcome {
        let meta = job.service["metadata"]
        let namespace = meta?["namespace"]?.stringValue ?? ""
        let name = meta?["name"]?.stringValue ?? ""
        var version: UInt64? = nil
        if let target = job.target {
            do {
                // One write carries both: kube-apiserver's Service status strategy resets only `spec`, so the
                // annotation travels with the status. Should a server drop it, a metadata patch follows.
                let ingress: [JSON] = target.ips.map { ["ip": .string($0.description), "ipMode": "VIP"] }
                let annotation = target.pool.map(JSON.string) ?? .null
                var patch: JSON = ["status": ["loadBalancer": ["ingress": .array(ingress)]]]
                let annotate = meta?["annotations"]?[ServiceReading.allocatedFromPool]?.stringValue != target.pool
                if annotate { patch["metadata"] = ["annotations": [ServiceReading.allocatedFromPool: annotation]] }
                var updated = try await client.patch(
                    .services, namespace: namespace, name: name, patch, subresource: "status")
                if annotate,
                    updated["metadata"]?["annotations"]?[ServiceReading.allocatedFromPool]?.stringValue != target.pool
                {
                    updated = try await client.patch(
                        .services, namespace: namespace, name: name,
                        ["metadata": ["annotations": [ServiceReading.allocatedFromPool: annotation]]])
                }
                version = updated["metadata"]?["resourceVersion"]?.stringValue.flatMap(UInt64.init)
            } catch let gone as Status where gone.code == 404 {
                return .gone
            } catch {
                Counter(label: "pylon_controller_write_failures_total").increment()
                let delay = Duration.milliseconds(min(10_000, 100 << min(job.attempts, 7)))
                logger.error(
                    "cannot update service; retrying",
                    metadata: ["service": "\(job.key)", "error": "\(error)", "retryIn": "\(delay)"])
                try? await Task.sleep(for: delay)
                return .failed
            }
        }
        return .written(version)
    }
}
