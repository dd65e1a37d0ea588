import KubeAPI
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Keeps a local cache of one collection in step with the server and tells handlers what changed.
///
/// It lists, then watches from the list's resourceVersion with bookmarks; a watch that ends is resumed from the
/// last version seen; a 410 Gone ("too old resource version") triggers a fresh list whose differences with the
/// cache are delivered as adds, updates and deletes — so handlers miss nothing and see nothing twice. Failures
/// back off exponentially with jitter (0.2 s doubling up to 30 s).
///
/// Thread-safe. `run()` is a `Service`: it returns on graceful shutdown or cancellation. Handlers run one at a
/// time, in event order, on the informer's task.
public final class Informer: Service, Sendable {
    /// A change delivered to handlers.
    public enum Change: Sendable {
        case added(JSON)
        case updated(old: JSON, new: JSON)
        case deleted(JSON)
    }

    public typealias Handler = @Sendable (Change) async -> Void
    public typealias IndexFunction = @Sendable (JSON) -> [String]
    /// Reduces an object before it is cached and delivered (e.g. to the fields a component reads).
    public typealias Transform = @Sendable (JSON) -> JSON

    /// One cached object: decoded, or (for a compact informer) its serialized text — packed into the
    /// informer's arena once it is in the cache.
    private struct Entry {
        private enum Storage {
            case decoded(JSON)
            case encoded([UInt8])
            case packed(TextArena.Text)
        }

        let resourceVersion: String?
        private let storage: Storage

        init(_ object: JSON, compact: Bool) {
            resourceVersion = object["metadata"]?["resourceVersion"]?.stringValue
            storage = compact ? .encoded(object.serialized()) : .decoded(object)
        }

        private init(resourceVersion: String?, storage: Storage) {
            self.resourceVersion = resourceVersion
            self.storage = storage
        }

        var object: JSON {
            do {
                switch storage {
                case .decoded(let object): return object
                case .encoded(let text): return try JSONParser.parse(text)
                case .packed(let text):
                    return try text.withBytes { bytes throws(JSONError) in try JSONParser.parse(bytes) }
                }
            } catch {
                // The text was written by `JSON.serialized()` from a value; it always parses back.
                preconditionFailure("informer cache entry does not parse: \(error)")
            }
        }

        /// This entry with its text (if it has one) in `arena`.
        func packed(into arena: inout TextArena) -> Entry {
            switch storage {
            case .decoded: self
            case .encoded(let text): Entry(resourceVersion: resourceVersion, storage: .packed(arena.store(text)))
            case .packed(let text): Entry(resourceVersion: resourceVersion, storage: .packed(arena.store(text)))
            }
        }

        /// Tells `arena` that this entry left the cache.
        func release(from arena: inout TextArena) {
            if case .packed(let text) = storage { arena.release(text) }
        }
    }

    /// A change of the cache, decoded only when it is delivered.
    private enum EntryChange {
        case added(Entry)
        case updated(old: Entry, new: Entry)
        case deleted(Entry)
        /// A change whose objects are decoded already (from a watch event).
        case decoded(Change)

        var change: Change {
            switch self {
            case .decoded(let change): change
            case .added(let new): .added(new.object)
            case .updated(let old, let new): .updated(old: old.object, new: new.object)
            case .deleted(let old): .deleted(old.object)
            }
        }
    }

    private struct State {
        var objects: [String: Entry] = [:]
        /// The texts of a compact informer's entries.
        var arena = TextArena()
        var indexes: [String: [String: Set<String>]] = [:]
        var handlers: [Handler] = []
        var synced = false
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
        var lastResourceVersion = ""
        var lists = 0
        var watchRestarts = 0
        var watches = 0
    }

    public let resource: Resource
    private let client: KubeClient
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let indexers: [String: IndexFunction]
    private let logger: Logger
    private let state = Mutex(State())
    private let watchTimeout: Int
    private let transform: Transform?
    private let compact: Bool

    /// - Parameters:
    ///   - indexers: named functions giving the index keys of an object (e.g. by node name).
    ///   - watchTimeoutSeconds: how long one watch request lasts before it is renewed.
    ///   - transform: applied to every object before it is cached; it must keep `metadata.name`, `namespace` and
    ///     `resourceVersion`.
    ///   - compact: keep cached objects as serialized JSON (several times smaller than the decoded form) and decode
    ///     them on every read: for large collections read mostly one object at a time (`get`).
    public init(
        client: KubeClient, resource: Resource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, indexers: [String: IndexFunction] = [:], watchTimeoutSeconds: Int = 300,
        transform: Transform? = nil, compact: Bool = false, logger: Logger? = nil
    ) {
        self.transform = transform
        self.compact = compact
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.indexers = indexers
        self.watchTimeout = watchTimeoutSeconds
        self.logger = logger ?? Logger(label: "pylon.informer.\(resource.plural)")
    }

    /// Adds a handler; it first receives an `.added` for every object already cached.
    public func addHandler(_ handler: @escaping Handler) async {
        let existing = state.withLock { s in
            s.handlers.append(handler)
            return Array(s.objects.values)
        }
        for entry in existing { await handler(.added(entry.object)) }
    }

    /// Whether the first list has been applied.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Suspends until the first list has been applied.
    public func waitForSync() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.synced { return true }
                s.syncWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The cached object, if any.
    public func get(namespace: String? = nil, name: String) -> JSON? {
        state.withLock { $0.objects[Self.key(namespace ?? "", name)]?.object }
    }

    /// All cached objects.
    public func list() -> [JSON] { list { $0 } }

    /// Every cached object reduced by `transform`, one at a time: a compact informer never holds its whole
    /// collection decoded. `transform` runs outside the informer's lock.
    public func list<T>(_ transform: (JSON) throws -> T) rethrows -> [T] {
        try state.withLock { Array($0.objects.values) }.map { try transform($0.object) }
    }

    /// The `namespace/name` of every cached object (`/name` for cluster-scoped ones), without decoding any.
    public func keys() -> [String] { state.withLock { Array($0.objects.keys) } }

    /// Cached objects whose index `index` contains `value`.
    public func byIndex(_ index: String, _ value: String) -> [JSON] {
        state.withLock { s in (s.indexes[index]?[value] ?? []).compactMap { s.objects[$0]?.object } }
    }

    /// How many times the collection was listed (1 + relists after 410 Gone).
    public var listCount: Int { state.withLock { $0.lists } }

    /// How many watches ended in an error (broken connection, server gone, 410) and were restarted.
    public var watchRestartCount: Int { state.withLock { $0.watchRestarts } }

    /// How many watch requests were started (each one resumes from the last version seen).
    public var watchCount: Int { state.withLock { $0.watches } }

    /// The resourceVersion of the newest event applied.
    public var lastResourceVersion: String { state.withLock { $0.lastResourceVersion } }

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    // MARK: Running

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await self.loop()
        }
    }

    private func loop() async throws {
        var backoff = Backoff()
        var needsList = true
        while !Task.isCancelled {
            do {
                if needsList {
                    try await relist()
                    needsList = false
                }
                try await watchOnce()
                backoff.reset()
            } catch let status as Status where status.code == 410 {
                logger.info(
                    "watch expired, relisting",
                    metadata: ["resource": "\(resource.plural)", "reason": "\(status.message)"])
                Counter(
                    label: "pylon_kube_client_watch_restarts_total",
                    dimensions: [("resource", resource.plural), ("reason", "expired")]
                ).increment()
                state.withLock { $0.watchRestarts += 1 }
                needsList = true
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                Counter(
                    label: "pylon_kube_client_watch_restarts_total",
                    dimensions: [("resource", resource.plural), ("reason", "error")]
                ).increment()
                state.withLock { $0.watchRestarts += 1 }
                let delay = backoff.next()
                logger.warning(
                    "watch failed, retrying",
                    metadata: ["resource": "\(resource.plural)", "error": "\(error)", "retryIn": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    private func relist() async throws {
        // Each object reduced as its page arrives, so a large collection is never held whole; a compact informer's
        // texts go into an arena of the list's own at once (thousands of small blocks freed after the list would
        // leave the heap's pages pinned by what was allocated among them).
        var fresh: [String: Entry] = [:]
        var listed = TextArena()
        let version = try await client.listPages(
            resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector
        ) { items in
            for item in items {
                fresh[item.namespacedName] = Entry(transform?(item) ?? item, compact: compact).packed(into: &listed)
            }
        }
        var changes: [EntryChange] = []
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            for (key, old) in s.objects where fresh[key] == nil {
                changes.append(.deleted(old))
                remove(key, from: &s)
            }
            for (key, new) in fresh {
                if let old = s.objects[key] {
                    if old.resourceVersion != new.resourceVersion {
                        changes.append(.updated(old: old, new: new))
                        store(key, new, in: &s)
                    }
                } else {
                    changes.append(.added(new))
                    store(key, new, in: &s)
                }
            }
            s.lastResourceVersion = version
            s.lists += 1
            s.synced = true
            let w = s.syncWaiters
            s.syncWaiters = []
            return w
        }
        await deliver(changes)
        for w in waiters { w.resume() }
    }

    private func watchOnce() async throws {
        let from = state.withLock { s in
            s.watches += 1
            return s.lastResourceVersion
        }
        let events = client.watch(
            resource, namespace: namespace, resourceVersion: from, labelSelector: labelSelector,
            fieldSelector: fieldSelector, allowBookmarks: true, timeoutSeconds: watchTimeout)
        for try await event in events {
            let object = transform?(event.object) ?? event.object
            let change: Change? = state.withLock { s in
                if let rv = event.resourceVersion { s.lastResourceVersion = rv }
                let key = object.namespacedName
                switch event.kind {
                case .bookmark:
                    return nil
                case .added, .modified:
                    let old = s.objects[key]
                    if let old, old.resourceVersion == object["metadata"]?["resourceVersion"]?.stringValue {
                        return nil
                    }
                    store(key, Entry(object, compact: compact), in: &s)
                    return old.map { .updated(old: $0.object, new: object) } ?? .added(object)
                case .deleted:
                    guard s.objects[key] != nil else { return nil }
                    remove(key, from: &s)
                    return .deleted(object)
                }
            }
            if let change { await deliver([.decoded(change)]) }
        }
    }

    private func deliver(_ changes: [EntryChange]) async {
        guard !changes.isEmpty else { return }
        let handlers = state.withLock { $0.handlers }
        for entryChange in changes {
            let change = entryChange.change
            for handler in handlers { await handler(change) }
        }
    }

    private func store(_ key: String, _ entry: Entry, in s: inout State) {
        remove(key, from: &s)
        s.objects[key] = entry.packed(into: &s.arena)
        if s.arena.wantsCompaction {
            var fresh = TextArena()
            s.objects = s.objects.mapValues { $0.packed(into: &fresh) }
            s.arena = fresh
        }
        guard !indexers.isEmpty else { return }
        let object = entry.object
        for (name, function) in indexers {
            for value in function(object) { s.indexes[name, default: [:]][value, default: []].insert(key) }
        }
    }

    private func remove(_ key: String, from s: inout State) {
        guard let old = s.objects.removeValue(forKey: key) else { return }
        old.release(from: &s.arena)
        guard !indexers.isEmpty else { return }
        let object = old.object
        for (name, function) in indexers {
            for value in function(object) {
                s.indexes[name]?[value]?.remove(key)
                if s.indexes[name]?[value]?.isEmpty == true { s.indexes[name]?[value] = nil }
            }
        }
    }
}
