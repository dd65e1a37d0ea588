import CSQLite
import DequeModule
import Files
import KubeAPI
import Logging
import NIOPosix
import Synchronization

/// The server's object store: every object in memory, every acknowledged write in SQLite (WAL, `synchronous=FULL`),
/// one global revision used as `resourceVersion`, and a bounded history of changes for watches.
///
/// Writes are grouped: concurrent writes are validated in order against the latest state (including writes not yet
/// on disk), then committed together in one SQLite transaction on a dedicated thread, then made visible to readers
/// and watchers and acknowledged. A write is acknowledged only after its transaction is durable.
/// Thread-safe; all methods may be called from any task.
public final class Storage: Sendable {
    /// What a write decides to do with the current object.
    public enum Decision: Sendable {
        case put(JSON)
        case delete
        case unchanged
    }

    /// The result of a write: the object as stored (or as it was when deleted), its serialized form, and the event
    /// it produced.
    public struct WriteResult: Sendable {
        public var object: JSON
        public var bytes: [UInt8]
        public var kind: WatchEvent.Kind?
    }

    private struct Pending {
        var event: WatchEvent
        var result: WriteResult
        var continuation: CheckedContinuation<Result<WriteResult, Status>, Never>
    }

    private struct Watcher {
        var filter: WatchFilter
        var buffer: WatchBuffer
    }

    private struct State {
        var committed: [String: [String: StoredObject]] = [:]
        /// Writes validated but not yet committed: the revision that staged them and the object (`nil` if deleted).
        var overlay: [ObjectKey: (revision: Int64, object: StoredObject?)] = [:]
        var revision: Int64 = 0
        var committedRevision: Int64 = 0
        var history: Deque<WatchEvent> = []
        /// The newest revision no longer in `history`; watches from before it are expired.
        var compactedRevision: Int64 = 0
        var watchers: [UInt64: Watcher] = [:]
        var nextWatcherID: UInt64 = 0
        var pending: [Pending] = []
        var writerRunning = false
        var batchesSinceCompaction = 0
        /// Per resource: the keys in namespace/name order, and the key generation they were sorted at.
        var sortedKeys: [String: (generation: Int, keys: [ObjectKey])] = [:]
        /// Per resource: how many times an object was created or deleted (an existing key changing keeps the order).
        var keyGenerations: [String: Int] = [:]
    }

    /// Raised on a watch stream whose consumer fell too far behind; the client must watch again.
    public struct WatcherTooSlow: Error {}

    private let state: Mutex<State>
    private let writer: Writer
    private let historyLimit: Int
    private let watcherBuffer: Int
    private let logger: Logger

    /// Opens (or creates) the store in `directory`/`state.db` and loads it into memory.
    /// - Parameters:
    ///   - historyLimit: how many past changes watches may resume from.
    ///   - watcherBuffer: how many undelivered events a watcher may hold before it is closed.
    /// - Throws: `SQLiteError` when the database cannot be opened or read.
    public init(directory: String, historyLimit: Int = 10_000, watcherBuffer: Int = 50_000, logger: Logger) throws {
        self.historyLimit = historyLimit
        self.watcherBuffer = watcherBuffer
        self.logger = logger
        try FileIO.createPrivateFile(directory + "/state.db")
        let db = try SQLiteDatabase(path: directory + "/state.db")
        try db.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS objects(key TEXT PRIMARY KEY, rv INTEGER NOT NULL, value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS log(rv INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL,
                                           value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)
        var s = State()
        let objects = try db.prepare("SELECT key, rv, value FROM objects")
        while try objects.step() {
            guard let key = ObjectKey(flat: objects.text(0)) else { continue }
            let stored = try StoredObject(bytes: objects.blob(2), revision: objects.int64(1))
            s.committed[key.prefix, default: [:]][key.local] = stored
            s.revision = max(s.revision, stored.revision)
        }
        let log = try db.prepare("SELECT rv, key, type, value FROM log ORDER BY rv DESC LIMIT ?1")
        log.bind(1, Int64(historyLimit))
        var events: [WatchEvent] = []
        while try log.step() {
            guard let key = ObjectKey(flat: log.text(1)), let kind = WatchEvent.Kind(rawValue: log.int64(2)) else {
                continue
            }
            let stored = try StoredObject(bytes: log.blob(3), revision: log.int64(0))
            events.append(WatchEvent(kind: kind, key: key, object: stored, previousLabels: nil))
        }
        let meta = try db.prepare("SELECT value FROM meta WHERE name = 'revision'")
        if try meta.step() { s.revision = max(s.revision, meta.int64(0)) }
        s.history = Deque(events.reversed())
        s.revision = max(s.revision, s.history.last?.object.revision ?? 0)
        s.committedRevision = s.revision
        s.compactedRevision = (s.history.first?.object.revision).map { $0 - 1 } ?? s.revision
        state = Mutex(s)
        writer = try Writer(db: db)
    }

    /// Stops the writer thread after pending writes are committed.
    public func shutdown() async {
        await writer.shutdown()
    }

    // MARK: Reads

    /// The revision of the newest acknowledged write.
    public var currentRevision: Int64 {
        state.withLock { $0.committedRevision }
    }

    /// The newest revision that has left the watch history (watches from at or before it get 410).
    public var compactedRevision: Int64 {
        state.withLock { $0.compactedRevision }
    }

    /// The object at `key`, if any.
    public func get(_ key: ObjectKey) -> StoredObject? {
        state.withLock { $0.committed[key.prefix]?[key.local] }
    }

    /// Objects selected by `filter` in namespace/name order — only those after `start` when given, at most `limit`
    /// of them — with how many more selected objects follow and the revision of the snapshot.
    ///
    /// The sorted keys of each resource are kept until an object of it is created or deleted, so the pages of a
    /// paged list cost what they return rather than a sort of the whole resource each.
    public func list(_ filter: WatchFilter, after start: (namespace: String, name: String)? = nil, limit: Int? = nil)
        -> (items: [(ObjectKey, StoredObject)], remaining: Int, revision: Int64)
    {
        let prefix = filter.prefix
        let (table, cached, generation, revision) = state.withLock { s in
            (
                s.committed[prefix] ?? [:], s.sortedKeys[prefix], s.keyGenerations[prefix, default: 0],
                s.committedRevision
            )
        }
        let keys: [ObjectKey]
        if let cached, cached.generation == generation {
            keys = cached.keys
        } else {
            keys = table.keys.map { ObjectKey(prefix: prefix, local: $0) }
                .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
            state.withLock { s in
                if s.keyGenerations[prefix, default: 0] == generation { s.sortedKeys[prefix] = (generation, keys) }
            }
        }
        var index = 0
        if let namespace = filter.namespace { index = Self.firstIndex(in: keys) { $0.namespace >= namespace } }
        if let start {
            index = max(index, Self.firstIndex(in: keys) { ($0.namespace, $0.name) > (start.namespace, start.name) })
        }
        var items: [(ObjectKey, StoredObject)] = []
        var remaining = 0
        while index < keys.count {
            let key = keys[index]
            index += 1
            if let namespace = filter.namespace, key.namespace != namespace { break }
            guard let object = table[key.local], filter.selects(key, object) else { continue }
            if let limit, items.count >= limit { remaining += 1 } else { items.append((key, object)) }
        }
        return (items, remaining, revision)
    }

    /// The first index of sorted `keys` whose key satisfies `isAfter` (false for a prefix of `keys`, then true).
    private static func firstIndex(in keys: [ObjectKey], where isAfter: (ObjectKey) -> Bool) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if isAfter(keys[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Number of objects stored under `prefix` in `namespace` (all namespaces when `nil`).
    public func count(prefix: String, namespace: String? = nil) -> Int {
        state.withLock { s in
            guard let table = s.committed[prefix] else { return 0 }
            guard let namespace else { return table.count }
            return table.keys.filter { $0.hasPrefix(namespace + "/") }.count
        }
    }

    // MARK: Writes

    /// Reads the latest state of `key` (including writes still being committed), lets `decide` choose what to
    /// write, and commits it. `decide` runs while writes are serialised: keep it short and free of I/O.
    /// - Returns: the object as stored, or the last state of a deleted object.
    /// - Throws: whatever `Status` `decide` throws; `InternalError` when the commit fails.
    public func write(_ key: ObjectKey, _ decide: (JSON?) throws(Status) -> Decision) async throws(Status)
        -> WriteResult
    {
        enum Next {
            case answer(Result<WriteResult, Status>)
            case waitForCommit
            case startWriter
        }
        let outcome: Result<WriteResult, Status> = await withCheckedContinuation { continuation in
            let next: Next = state.withLock { s in
                let current: StoredObject?
                if let staged = s.overlay[key] {
                    current = staged.object
                } else {
                    current = s.committed[key.prefix]?[key.local]
                }
                let currentJSON = current?.json
                let decision: Decision
                do throws(Status) {
                    decision = try decide(currentJSON)
                } catch {
                    return .answer(.failure(error))
                }
                switch decision {
                case .unchanged:
                    guard let current, let currentJSON else {
                        return .answer(.failure(.internalError("no object to keep unchanged")))
                    }
                    return .answer(.success(WriteResult(object: currentJSON, bytes: current.bytes, kind: nil)))
                case .put(let object):
                    s.revision += 1
                    let (stored, storedJSON) = StoredObject.stamped(object, revision: s.revision)
                    let kind: WatchEvent.Kind = current == nil ? .added : .modified
                    s.overlay[key] = (s.revision, stored)
                    let event = WatchEvent(kind: kind, key: key, object: stored, previousLabels: current?.labels)
                    s.pending.append(
                        Pending(
                            event: event, result: WriteResult(object: storedJSON, bytes: stored.bytes, kind: kind),
                            continuation: continuation))
                case .delete:
                    guard let currentJSON else {
                        return .answer(.failure(.internalError("no object to delete")))
                    }
                    s.revision += 1
                    let (stored, last) = StoredObject.stamped(currentJSON, revision: s.revision)
                    s.overlay[key] = (s.revision, nil)
                    let event = WatchEvent(kind: .deleted, key: key, object: stored, previousLabels: current?.labels)
                    s.pending.append(
                        Pending(
                            event: event, result: WriteResult(object: last, bytes: stored.bytes, kind: .deleted),
                            continuation: continuation)
                    )
                }
                if s.writerRunning { return .waitForCommit }
                s.writerRunning = true
                return .startWriter
            }
            switch next {
            case .waitForCommit: break
            case .startWriter: writer.schedule { [self] in self.drain() }
            case .answer(let result): continuation.resume(returning: result)
            }
        }
        return try outcome.get()
    }

    /// Runs on the writer thread until no write is pending.
    private func drain() {
        while true {
            let batch: [Pending]? = state.withLock { s in
                if s.pending.isEmpty {
                    s.writerRunning = false
                    return nil
                }
                let b = s.pending
                s.pending = []
                return b
            }
            guard let batch else { return }
            let failure: SQLiteError?
            do {
                try writer.commit(batch.map(\.event), compactBefore: compactionPoint())
                failure = nil
            } catch {
                failure = error
                logger.error("storage commit failed", metadata: ["error": "\(error)", "writes": "\(batch.count)"])
            }
            // Each watcher's share of the batch, handed over in one piece once the lock is released (only this
            // thread delivers, so batches stay in order; a watch starting meanwhile replays them from `history`).
            let deliveries = state.withLock { s -> [(UInt64, WatchBuffer, [WatchEvent])] in
                var shares: [UInt64: [WatchEvent]] = [:]
                for p in batch {
                    let key = p.event.key
                    if s.overlay[key]?.revision == p.event.object.revision { s.overlay[key] = nil }
                    guard failure == nil else { continue }
                    let keysChanged: Bool
                    if p.event.kind == .deleted {
                        keysChanged = s.committed[key.prefix]?.removeValue(forKey: key.local) != nil
                    } else {
                        keysChanged =
                            s.committed[key.prefix, default: [:]].updateValue(p.event.object, forKey: key.local) == nil
                    }
                    if keysChanged {
                        s.keyGenerations[key.prefix, default: 0] += 1
                        s.sortedKeys[key.prefix] = nil
                    }
                    s.committedRevision = p.event.object.revision
                    s.history.append(p.event)
                    for (id, w) in s.watchers {
                        if let translated = w.filter.translate(p.event) { shares[id, default: []].append(translated) }
                    }
                }
                while s.history.count > historyLimit, let first = s.history.popFirst() {
                    s.compactedRevision = first.object.revision
                }
                return shares.compactMap { id, events in s.watchers[id].map { (id, $0.buffer, events) } }
            }
            let behind = deliveries.filter { !$0.1.append(contentsOf: $0.2) }.map(\.0)
            if !behind.isEmpty {
                state.withLock { s in
                    for id in behind { s.watchers[id] = nil }
                }
            }
            for p in batch {
                if let failure {
                    p.continuation.resume(returning: .failure(.internalError("storage: \(failure.message)")))
                } else {
                    p.continuation.resume(returning: .success(p.result))
                }
            }
        }
    }

    private func compactionPoint() -> Int64? {
        state.withLock { s in
            s.batchesSinceCompaction += 1
            guard s.batchesSinceCompaction >= 100 else { return nil }
            s.batchesSinceCompaction = 0
            return s.compactedRevision
        }
    }

    // MARK: Watches

    /// Starts a watch. With `revision` `nil` the watcher first receives ADDED events for every selected object;
    /// otherwise it receives every change after `revision`.
    /// - Returns: the event stream, an id for `stopWatch`, and the revision the watch started from.
    /// - Throws: 410 Expired when `revision` is older than the kept history.
    public func watch(_ filter: WatchFilter, from revision: Int64?) throws(Status) -> (
        events: WatchBuffer, id: UInt64, revision: Int64
    ) {
        let buffer = WatchBuffer(limit: watcherBuffer)
        let result: Result<(UInt64, Int64), Status> = state.withLock { s in
            var replay: [WatchEvent] = []
            if let revision {
                if revision < s.compactedRevision {
                    return .failure(.gone("too old resource version: \(revision) (\(s.compactedRevision + 1))"))
                }
                for event in s.history where event.object.revision > revision {
                    if let t = filter.translate(event) { replay.append(t) }
                }
            } else {
                for (local, object) in s.committed[filter.prefix] ?? [:] {
                    let key = ObjectKey(prefix: filter.prefix, local: local)
                    if filter.selects(key, object) {
                        replay.append(WatchEvent(kind: .added, key: key, object: object, previousLabels: nil))
                    }
                }
            }
            let id = s.nextWatcherID
            s.nextWatcherID += 1
            // The starting events go in before the watcher is registered, while the lock keeps newer ones out.
            buffer.append(contentsOf: replay, bounded: false)
            s.watchers[id] = Watcher(filter: filter, buffer: buffer)
            return .success((id, revision ?? s.committedRevision))
        }
        let (id, start) = try result.get()
        return (buffer, id, start)
    }

    /// Ends a watch and releases its buffer.
    public func stopWatch(_ id: UInt64) {
        let w = state.withLock { $0.watchers.removeValue(forKey: id) }
        w?.buffer.finish()
    }

    /// Ends every open watch (server shutdown): clients see their watch end and reconnect elsewhere or later.
    public func finishAllWatches() {
        let watchers = state.withLock { s -> [Watcher] in
            let w = Array(s.watchers.values)
            s.watchers = [:]
            return w
        }
        for w in watchers { w.buffer.finish() }
    }
}
