import KubeAPI
import Synchronization

/// The set of resources the server serves: the built-in ones and one per established CRD.
///
/// Thread-safe (a `Mutex` guards the table); lookups are cheap and may be called from any task.
public final class ResourceRegistry: Sendable {
    private struct Table {
        var byKey: [String: ResourceType] = [:]
        var generation = 0
    }

    private let table: Mutex<Table>

    public init() {
        var t = Table()
        for r in BuiltinResources.all { t.byKey[r.storagePrefix] = r }
        table = Mutex(t)
    }

    /// Every resource currently served, in a stable order (group, then plural).
    public var all: [ResourceType] {
        table.withLock { Array($0.byKey.values) }.sorted { ($0.group, $0.plural) < ($1.group, $1.plural) }
    }

    /// Increments whenever the set of resources changes (used to invalidate cached documents).
    public var generation: Int { table.withLock { $0.generation } }

    /// The resource with this group and plural when `version` is one of its served versions.
    public func lookup(group: String, version: String, plural: String) -> ResourceType? {
        guard let r = table.withLock({ $0.byKey["\(group)/\(plural)"] }), r.version(version) != nil else { return nil }
        return r
    }

    /// The resource with this group and plural, whatever the version.
    public func lookup(group: String, plural: String) -> ResourceType? {
        table.withLock { $0.byKey["\(group)/\(plural)"] }
    }

    /// Adds or replaces a custom resource.
    func install(_ resource: ResourceType) {
        table.withLock {
            $0.byKey[resource.storagePrefix] = resource
            $0.generation += 1
        }
    }

    /// Removes a custom resource (built-ins cannot be removed).
    func remove(group: String, plural: String) {
        table.withLock {
            guard $0.byKey["\(group)/\(plural)"]?.behaviour == .custom else { return }
            $0.byKey["\(group)/\(plural)"] = nil
            $0.generation += 1
        }
    }
}
