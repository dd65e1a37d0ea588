import KubeAPI
import OrderedCollections

/// One JSON object of a CNI configuration, read field by field with errors that name the field: every wrong type is
/// an `invalidConfig` error such as `ipam.ranges[0][0].subnet must be a string, not a number`.
struct ConfigObject {
    let members: JSONObject
    /// Where the object sits in the configuration (`ipam`, `ipam.ranges[0][1]`), for messages; empty at the top.
    let path: String

    init(_ members: JSONObject, path: String = "") {
        self.members = members
        self.path = path
    }

    /// Reads `value` as an object.
    /// - Throws: `CNIError.invalidConfig` when it is something else.
    init(_ value: JSON, path: String) throws(CNIError) {
        guard let members = value.objectValue else { throw Self.wrongType(path, "an object", value) }
        self.init(members, path: path)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { members[key].map { !$0.isNull } ?? false }

    func string(_ key: String) throws(CNIError) -> String? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw Self.wrongType(name(key), "a string", value) }
        return text
    }

    func bool(_ key: String) throws(CNIError) -> Bool? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let flag = value.boolValue else { throw Self.wrongType(name(key), "true or false", value) }
        return flag
    }

    func int(_ key: String, in range: ClosedRange<Int64>) throws(CNIError) -> Int64? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let number = value.intValue else { throw Self.wrongType(name(key), "an integer", value) }
        guard range.contains(number) else {
            throw CNIError(
                .invalidConfig,
                "\(name(key)) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
        }
        return number
    }

    func object(_ key: String) throws(CNIError) -> ConfigObject? {
        guard let value = members[key], !value.isNull else { return nil }
        return try ConfigObject(value, path: name(key))
    }

    func array(_ key: String) throws(CNIError) -> [JSON]? {
        guard let value = members[key], !value.isNull else { return nil }
        guard let items = value.arrayValue else { throw Self.wrongType(name(key), "an array", value) }
        return items
    }

    func strings(_ key: String) throws(CNIError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringValue else { throw Self.wrongType("\(name(key))[\(index)]", "a string", item) }
            out.append(text)
        }
        return out
    }

    static func wrongType(_ name: String, _ expected: String, _ value: JSON) -> CNIError {
        let type = value.typeName
        let found =
            type == "null"
            ? "null" : (["a", "e", "i", "o", "u"].contains(type.first.map(String.init)) ? "an " : "a ") + type
        return CNIError(.invalidConfig, "\(name) must be \(expected), not \(found)")
    }
}
