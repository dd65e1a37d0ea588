import KubeAPI
import OrderedCollections

/// One object as the store keeps it: its JSON bytes (with `metadata.resourceVersion` already set), its revision,
/// and its labels (kept parsed for selectors).
public struct StoredObject: Sendable {
    public let bytes: [UInt8]
    public let revision: Int64
    public let labels: [String: String]

    init(bytes: [UInt8], revision: Int64, labels: [String: String]) {
        self.bytes = bytes
        self.revision = revision
        self.labels = labels
    }

    /// The stored form of `object` at `revision` (written into its `metadata.resourceVersion`), and the object as
    /// stored, so a caller needing both does not parse the bytes back.
    static func stamped(_ object: JSON, revision: Int64) -> (stored: StoredObject, object: JSON) {
        var o = object
        o[path: ["metadata", "resourceVersion"]] = .string(String(revision))
        return (StoredObject(bytes: o.serialized(), revision: revision, labels: labels(of: o)), o)
    }

    /// Reads stored bytes back (used at start-up).
    init(bytes: [UInt8], revision: Int64) throws(JSONError) {
        let json = try JSONParser.parse(bytes)
        self.init(bytes: bytes, revision: revision, labels: StoredObject.labels(of: json))
    }

    /// The object as JSON. Stored bytes were produced by the serializer, so parsing cannot fail.
    public var json: JSON {
        (try? JSONParser.parse(bytes)) ?? .null
    }

    static func labels(of object: JSON) -> [String: String] {
        var labels: [String: String] = [:]
        for (k, v) in object["metadata"]?["labels"]?.objectValue ?? [:] {
            if let s = v.stringValue { labels[k] = s }
        }
        return labels
    }
}
