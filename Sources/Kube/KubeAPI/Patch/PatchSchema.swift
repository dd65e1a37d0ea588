/// The patch metadata strategic merge patch needs: which lists merge rather than replace, and by which key.
///
/// Built-in types carry it in their Go struct tags (`patchStrategy`, `patchMergeKey`); here it is a tree of
/// field names. A field absent from the tree is atomic: its list is replaced as a whole.
public final class PatchSchema: Sendable {
    /// How a list field combines with the patch.
    public enum ListStrategy: Sendable {
        /// Lists of objects merge element by element, matched on `mergeKey`; lists of scalars take the union.
        case merge(mergeKey: String?)
        /// The patch's list replaces the original (the default).
        case replace
    }

    /// The strategy for this field when it holds a list.
    public let list: ListStrategy
    /// Whether the map honours `$retainKeys` (`patchStrategy: retainKeys`).
    public let retainKeys: Bool
    /// Schemas of members (for an object) or of the elements' members (for a list of objects).
    public let fields: [String: PatchSchema]

    public init(list: ListStrategy = .replace, retainKeys: Bool = false, fields: [String: PatchSchema] = [:]) {
        self.list = list
        self.retainKeys = retainKeys
        self.fields = fields
    }

    /// A schema with no patch metadata anywhere: every list replaces.
    public static let atomic = PatchSchema()

    /// Shorthand for a list merged on `key` whose elements have `fields`.
    public static func mergeList(key: String?, fields: [String: PatchSchema] = [:]) -> PatchSchema {
        PatchSchema(list: .merge(mergeKey: key), fields: fields)
    }

    /// Shorthand for an object with `fields`.
    public static func object(_ fields: [String: PatchSchema]) -> PatchSchema {
        PatchSchema(fields: fields)
    }

    func child(_ name: String) -> PatchSchema {
        fields[name] ?? .atomic
    }
}
