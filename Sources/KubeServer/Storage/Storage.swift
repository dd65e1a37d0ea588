import CSQLite
import DequeModule
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

    /// The result of a write: the object as stored (or as it was when deleted) and the event it produced.
    public struct WriteResult: Sendable {
        public var object: JSON
        public var kind: WatchEvent.Kind?
    }

    private struct Pending {
        var event: WatchEvent
        var result: WriteResult
        var continuation: CheckedContinuation<Result<WriteResult, Status>, Never>
    }

    private struct Watcher {
        var filter: WatchFilter
        var continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
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

    /// All objects selected by `filter`, sorted by namespace and name, with the revision of the snapshot.
    public func list(_ filter: WatchFilter) -> (items: [(ObjectKey, StoredObject)], revision: Int64) {
        let (table, revision) = state.withLock { ($0.committed[filter.prefix] ?? [:], $0.committedRevision) }
        var items: [(ObjectKey, StoredObject)] = []
        for (local, object) in table {
            let slash = local.firstIndex(of: "/")!
            let key = ObjectKey(
                prefix: filter.prefix, namespace: String(local[..<slash]),
                name: String(local[local.index(after: slash)...]))
            if filter.selects(key, object) { items.append((key, object)) }
        }
        items.sort { ($0.0.namespace, $0.0.name) < ($1.0.namespace, $1.0.name) }
        return (items, revision)
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
                    guard let currentJSON else {
                        return .answer(.failure(.internalError("no object to keep unchanged")))
                    }
                    return .answer(.success(WriteResult(object: currentJSON, kind: nil)))
                case .put(let object):
                    s.revision += 1
                    let stored = StoredObject(object: object, revision: s.revision)
                    let kind: WatchEvent.Kind = current == nil ? .added : .modified
                    s.overlay[key] = (s.revision, stored)
                    let event = WatchEvent(kind: kind, key: key, object: stored, previousLabels: current?.labels)
                    s.pending.append(
                        Pending(
                            event: event, result: WriteResult(object: stored.json, kind: kind),
                            continuation: continuation))
                case .delete:
                    guard var last = currentJSON else {
                        return .answer(.failure(.internalError("no object to delete")))
                    }
                    s.revision += 1
                    last[path: ["metadata", "resourceVersion"]] = .string(String(s.revision))
                    let stored = StoredObject(object: last, revision: s.revision)
                    s.overlay[key] = (s.revision, nil)
                    let event = WatchEvent(kind: .deleted, key: key, object: stored, previousLabels: current?.labels)
                    s.pending.append(
                        Pending(
                            event: event, result: WriteResult(object: last, kind: .deleted), continuation: continuation)
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
            state.withLock { s in
                for p in batch {
                    let key = p.event.key
                    if s.overlay[key]?.revision == p.event.object.revision { s.overlay[key] = nil }
                    guard failure == nil else { continue }
                    if p.event.kind == .deleted {
                        s.committed[key.prefix]?[key.local] = nil
                    } else {
                        s.committed[key.prefix, default: [:]][key.local] = p.event.object
                    }
                    s.committedRevision = p.event.object.revision
                    s.history.append(p.event)
                    for (id, w) in s.watchers {
                        guard let translated = w.filter.translate(p.event) else { continue }
                        if case .dropped = w.continuation.yield(translated) {
                            w.continuation.finish(throwing: WatcherTooSlow())
                            s.watchers[id] = nil
                        }
                    }
                }
                while s.history.count > historyLimit, let first = s.history.popFirst() {
                    s.compactedRevision = first.object.revision
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
        events: AsyncThrowingStream<WatchEvent, any Error>, id: UInt64, revision: Int64
    ) {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream(
            bufferingPolicy: .bufferingOldest(watcherBuffer))
        let result: Result<(UInt64, Int64), Status> = state.withLock { s in
            if let revision {
                if revision < s.compactedRevision {
                    return .failure(.gone("too old resource version: \(revision) (\(s.compactedRevision + 1))"))
                }
                for event in s.history where event.object.revision > revision {
                    if let t = filter.translate(event) { continuation.yield(t) }
                }
            } else {
                for (local, object) in s.committed[filter.prefix] ?? [:] {
                    let slash = local.firstIndex(of: "/")!
                    let key = ObjectKey(
                        prefix: filter.prefix, namespace: String(local[..<slash]),
                        name: String(local[local.index(after: slash)...]))
                    if filter.selects(key, object) {
                        continuation.yield(WatchEvent(kind: .added, key: key, object: object, previousLabels: nil))
                    }
                }
            }
            let id = s.nextWatcherID
            s.nextWatcherID += 1
            s.watchers[id] = Watcher(filter: filter, continuation: continuation)
            return .success((id, revision ?? s.committedRevision))
        }
        let (id, start) = try result.get()
        return (stream, id, start)
    }

    /// Ends a watch and releases its buffer.
    public func stopWatch(_ id: UInt64) {
        let w = state.withLock { $0.watchers.removeValue(forKey: id) }
        w?.continuation.finish()
    }

    /// Ends every open watch (server shutdown): clients see their watch end and reconnect elsewhere or later.
    public func finishAllWatches() {
        let watchers = state.withLock { s -> [Watcher] in
            let w = Array(s.watchers.values)
            s.watchers = [:]
            return w
        }
        for w in watchers { w.continuation.finish() }
    }
}
