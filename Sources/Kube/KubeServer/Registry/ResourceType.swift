import KubeAPI

/// Everything the server knows about one servable resource (one group, one plural name), whether built in or
/// defined by a CustomResourceDefinition.
///
/// A value type; the registry swaps whole values when a CRD changes.
public struct ResourceType: Sendable {
    /// A printer column declared by a CRD (`additionalPrinterColumns`).
    public struct PrinterColumn: Sendable {
        public var name: String
        public var type: String
        public var format: String
        public var description: String
        public var priority: Int
        public var jsonPath: String
    }

    /// One served version with its schema (CRDs carry a schema per version).
    public struct Version: Sendable {
        public var name: String
        public var schema: JSON?
        public var printerColumns: [PrinterColumn]
        public var hasStatus: Bool
    }

    public var group: String
    public var versions: [Version]
    public var storageVersion: String
    public var kind: String
    public var plural: String
    public var singular: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    /// Whether objects are read and written through `/status` separately from the main resource.
    public var hasStatus: Bool
    /// The built-in behaviour (defaulting, validation, table) of this resource; `.custom` for CRDs.
    public var behaviour: Behaviour
    /// Patch metadata for strategic merge patch; `nil` means the resource does not accept it (CRDs).
    public var patchSchema: PatchSchema?

    /// Built-in kinds with server-side behaviour.
    public enum Behaviour: Sendable {
        case generic
        case namespace
        case service
        case node
        case pod
        case event
        case endpointSlice
        case endpoints
        case lease
        case configMap
        case secret
        case serviceAccount
        case deployment
        case daemonSet
        case customResourceDefinition
        case custom
    }

    /// `apiVersion` for `version`: `v1` for the core group, else `group/version`.
    public func apiVersion(_ version: String) -> String {
        group.isEmpty ? version : "\(group)/\(version)"
    }

    /// The storage key prefix of this resource (`group/plural`).
    public var storagePrefix: String { "\(group)/\(plural)" }

    /// `plural.group`, or `plural` for the core group, as errors and RBAC spell it.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    public func version(_ name: String) -> Version? {
        versions.first { $0.name == name }
    }

    /// Verbs listed in discovery.
    public var verbs: [String] {
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}
