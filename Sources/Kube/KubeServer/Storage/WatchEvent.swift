/// One change to one object, as watchers receive it.
public struct WatchEvent: Sendable {
    public enum Kind: Int64, Sendable {
        case added = 0
        case modified = 1
        case deleted = 2

        /// The `type` field of a watch event on the wire.
        public var wireName: String {
            switch self {
            case .added: return "ADDED"
            case .modified: return "MODIFIED"
            case .deleted: return "DELETED"
            }
        }
    }

    public let kind: Kind
    public let key: ObjectKey
    /// The object after the change; for a deletion, the last state with the deletion's revision.
    public let object: StoredObject
    /// Labels before the change, when known (lets a label-selector watch see an object leave its selection).
    public let previousLabels: [String: String]?
}
