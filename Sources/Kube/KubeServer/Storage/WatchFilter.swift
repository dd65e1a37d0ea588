import KubeAPI

/// Which events a watcher (or a list) wants: one resource, optionally one namespace, objects matching the label
/// selector and an optional extra predicate (field selectors).
public struct WatchFilter: Sendable {
    public var prefix: String
    public var namespace: String?
    public var labels: LabelSelector
    public var fields: (@Sendable (ObjectKey, StoredObject) -> Bool)?

    public init(
        prefix: String, namespace: String? = nil, labels: LabelSelector = .everything,
        fields: (@Sendable (ObjectKey, StoredObject) -> Bool)? = nil
    ) {
        self.prefix = prefix
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
    }

    /// Whether an object at `key` with this state is selected.
    func selects(_ key: ObjectKey, _ object: StoredObject, labels: [String: String]? = nil) -> Bool {
        guard key.prefix == prefix else { return false }
        if let namespace, key.namespace != namespace { return false }
        guard self.labels.matches(labels ?? object.labels) else { return false }
        if let fields, !fields(key, object) { return false }
        return true
    }

    /// The event this watcher should see for `event`, or `nil`: an object entering the label selection is seen as
    /// ADDED, one leaving it as DELETED.
    func translate(_ event: WatchEvent) -> WatchEvent? {
        guard event.key.prefix == prefix else { return nil }
        if let namespace, event.key.namespace != namespace { return nil }
        let now = selects(event.key, event.object)
        guard event.kind == .modified, !self.labels.isEverything, let previous = event.previousLabels else {
            return now ? event : nil
        }
        let before = self.labels.matches(previous)
        switch (before, now) {
        case (true, true): return event
        case (false, true):
            return WatchEvent(kind: .added, key: event.key, object: event.object, previousLabels: previous)
        case (true, false):
            return WatchEvent(kind: .deleted, key: event.key, object: event.object, previousLabels: previous)
        case (false, false): return nil
        }
    }
}
