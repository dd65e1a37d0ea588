import Announcement
import DequeModule
import KubeAPI
import NetCore

/// Which Service writes may run now: a pure value, driven by `ServiceWriter`.
///
/// Rules: at most one write per Service in flight; a newer decision for a Service replaces its queued one (events
/// accumulate, in order); writes start in submission order, except that a write taking an address waits while
/// another Service's queued or running write still gives that address up, so no reader ever sees one address on
/// two Services. When every queued write waits on another queued one (a cycle) and nothing runs, the oldest runs.
public struct WriteQueue: Sendable {
    /// The status a Service should end up with: its addresses and pool (no addresses clears both).
    public struct Target: Sendable, Equatable {
        public var ips: [IPAddress]
        public var pool: String?

        public init(ips: [IPAddress], pool: String?) {
            self.ips = ips
            self.pool = pool
        }

        public static let cleared = Target(ips: [], pool: nil)
    }

    /// An Event to record about the Service once its write succeeded.
    public struct Note: Sendable, Equatable {
        public var type: String
        public var reason: String
        public var message: String

        public init(type: String, reason: String, message: String) {
            self.type = type
            self.reason = reason
            self.message = message
        }
    }

    /// One unit of work: write `target` (when set) over `service`, then record `notes`.
    public struct Job: Sendable {
        public var key: String
        /// The Service as the decision saw it, reduced to `Job.serviceShape`.
        public var service: JSON
        public var target: Target?
        public var notes: [Note]
        /// Failed attempts so far (for backoff).
        public var attempts: Int

        /// What a job keeps of its Service: what the write and the Events name (identity, resourceVersion, the
        /// pool annotation) and the status it replaces. Thousands of queued jobs then hold little memory.
        public static let serviceShape: JSON = [
            "apiVersion": true, "kind": true,
            "metadata": [
                "name": true, "namespace": true, "uid": true, "resourceVersion": true,
                "annotations": [ServiceReading.allocatedFromPool: true],
            ],
            "status": ["loadBalancer": true],
        ]

        /// - Parameter service: the Service as the decision saw it; only `serviceShape` of it is kept.
        public init(key: String, service: JSON, target: Target?, notes: [Note] = [], attempts: Int = 0) {
            self.key = key
            self.service = service.projected(onto: Self.serviceShape)
            self.target = target
            self.notes = notes
            self.attempts = attempts
        }

        /// Addresses the Service holds now and gives up with this write.
        var releases: Set<IPAddress> {
            guard let target else { return [] }
            return Set(ServiceReading.statusIPs(service)).subtracting(target.ips)
        }

        /// Addresses this write gives the Service that it does not hold yet.
        var takes: Set<IPAddress> {
            guard let target else { return [] }
            return Set(target.ips).subtracting(ServiceReading.statusIPs(service))
        }
    }

    /// Queued jobs by Service, each with the sequence number of its place in `order`.
    private var queued: [String: (sequence: Int, job: Job)] = [:]
    /// Submission order; entries whose sequence number no longer matches `queued` are stale and skipped.
    private var order: Deque<(sequence: Int, key: String)> = []
    private var sequence = 0
    private var running: [String: Job] = [:]
    /// For each address given up by a queued or running job: which Services give it up (and in how many jobs).
    private var giving: [IPAddress: [String: Int]] = [:]

    public init() {}

    /// Whether nothing is queued or running.
    public var isIdle: Bool { queued.isEmpty && running.isEmpty }

    /// Whether a write for `key` is queued or running.
    public func hasWork(for key: String) -> Bool { queued[key] != nil || running[key] != nil }

    /// The status the latest queued or running decision for `key` writes (`nil`: none pending or it leaves the
    /// status alone).
    public func pendingTarget(for key: String) -> Target? { queued[key]?.job.target ?? running[key]?.target }

    /// Number of queued and running jobs.
    public var count: Int { queued.count + running.count }

    /// Queues a decision; merges with a queued one for the same Service (the newer target wins, notes append).
    public mutating func submit(_ job: Job) {
        var merged = job
        if let (place, existing) = queued[job.key] {
            track(existing, -1)
            merged.target = job.target ?? existing.target
            merged.notes = existing.notes + job.notes
            merged.attempts = existing.attempts
            queued[job.key] = (place, merged)
        } else {
            enqueue(merged)
        }
        track(merged, 1)
    }

    private mutating func enqueue(_ job: Job) {
        sequence += 1
        queued[job.key] = (sequence, job)
        order.append((sequence, job.key))
    }

    /// Takes the next job allowed to run and marks it running; `nil` when none may run now.
    public mutating func next() -> Job? {
        while let first = order.first, queued[first.key]?.sequence != first.sequence { order.removeFirst() }
        var oldest: Job? = nil
        var ready: Job? = nil
        for entry in order {
            guard let (place, job) = queued[entry.key], place == entry.sequence else { continue }
            if oldest == nil { oldest = job }
            if running[job.key] == nil,
                job.takes.allSatisfy({ ip in (giving[ip] ?? [:]).keys.allSatisfy { $0 == job.key } })
            {
                ready = job
                break
            }
        }
        guard let chosen = ready ?? (running.isEmpty ? oldest : nil) else { return nil }
        queued[chosen.key] = nil
        running[chosen.key] = chosen
        return chosen
    }

    /// Marks `key`'s running job finished. A failed job is queued again (its attempt count raised) unless a newer
    /// decision for the same Service superseded it; then only its notes are kept, ahead of the newer ones.
    public mutating func finish(_ key: String, failed: Bool = false) {
        guard var job = running.removeValue(forKey: key) else { return }
        track(job, -1)
        guard failed else { return }
        if let (place, newer) = queued[key] {
            var merged = newer
            merged.notes = job.notes + newer.notes
            queued[key] = (place, merged)
        } else {
            job.attempts += 1
            enqueue(job)
            track(job, 1)
        }
    }

    private mutating func track(_ job: Job, _ delta: Int) {
        for ip in job.releases {
            var holders = giving[ip] ?? [:]
            holders[job.key, default: 0] += delta
            if holders[job.key] == 0 { holders[job.key] = nil }
            giving[ip] = holders.isEmpty ? nil : holders
        }
    }
}
