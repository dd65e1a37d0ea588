/// Where an object lives in storage: its resource (`group/plural`), namespace ("" when cluster scoped) and name.
public struct ObjectKey: Sendable, Hashable, CustomStringConvertible {
    public var prefix: String
    public var namespace: String
    public var name: String

    public init(prefix: String, namespace: String, name: String) {
        self.prefix = prefix
        self.namespace = namespace
        self.name = name
    }

    /// The key inside the resource's table: `namespace/name`.
    var local: String { "\(namespace)/\(name)" }

    /// The key of `local` (`namespace/name`, as `local` gives it) in the table of `prefix`.
    init(prefix: String, local: String) {
        let slash = local.firstIndex(of: "/")!
        self.init(
            prefix: prefix, namespace: String(local[..<slash]), name: String(local[local.index(after: slash)...]))
    }

    /// The flat key stored in SQLite: `group/plural/namespace/name`.
    public var description: String { "\(prefix)/\(namespace)/\(name)" }

    /// Parses the flat key; `nil` when it does not have four parts.
    init?(flat: String) {
        let parts = flat.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        self.init(prefix: "\(parts[0])/\(parts[1])", namespace: String(parts[2]), name: String(parts[3]))
    }
}
