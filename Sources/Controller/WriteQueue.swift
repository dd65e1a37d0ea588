import KubeAPI
import NetCore
import OrderedCollections

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
        /// The Service as the decision saw it.
        public var service: JSON
        public var target: Target?
        public var notes: [Note]
        /// Failed attempts so far (for backoff).
        public var attempts: Int

        public init(key: String, service: JSON, target: Target?, notes: [Note] = [], attempts: Int = 0) {
            self.key = key
            self.service = service
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

    private var queued: OrderedDictionary<String, Job> = [:]
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
    public func pendingTarget(for key: String) -> Target? { queued[key]?.target ?? running[key]?.target }

    /// Number of queued and running jobs.
    public var count: Int { queued.count + running.count }

    /// Queues a decision; merges with a queued one for the same Service (the newer target wins, notes append).
    public mutating func submit(_ job: Job) {
        var merged = job
        if let existing = queued[job.key] {
            track(existing, -1)
            merged.target = job.target ?? existing.target
            merged.notes = existing.notes + job.notes
            merged.attempts = existing.attempts
        }
        queued[job.key] = merged
        track(merged, 1)
    }

    /// Takes the next job allowed to run and marks it running; `nil` when none may run now.
    public mutating func next() -> Job? {
        let ready = queued.values.first { job in
            running[job.key] == nil
                && job.takes.allSatisfy { ip in (giving[ip] ?? [:]).keys.allSatisfy { $0 == job.key } }
        }
        let chosen = ready ?? (running.isEmpty ? queued.values.first : nil)
        guard let chosen else { return nil }
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
        if var newer = queued[key] {
            newer.notes = job.notes + newer.notes
            queued[key] = newer
        } else {
            job.attempts += 1
            queued[key] = job
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
