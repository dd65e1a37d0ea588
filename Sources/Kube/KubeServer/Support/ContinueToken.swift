import KubeAPI

/// The opaque `continue` token of a paged list: the last key returned and the list's revision, base64 encoded.
enum ContinueToken {
    static func encode(namespace: String, name: String, revision: Int64) -> String {
        let json: JSON = ["v": "pylon", "rv": .int(revision), "ns": .string(namespace), "name": .string(name)]
        return Base64.encode(json.serialized())
    }

    static func decode(_ token: String) -> (namespace: String, name: String, revision: Int64)? {
        guard let bytes = Base64.decode(token), let json = try? JSONParser.parse(bytes),
            let ns = json["ns"]?.stringValue, let name = json["name"]?.stringValue, let rv = json["rv"]?.intValue
        else { return nil }
        return (ns, name, rv)
    }
}
