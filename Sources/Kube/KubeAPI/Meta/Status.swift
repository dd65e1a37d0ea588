/// A `metav1.Status` failure: what kube-apiserver returns for every error, and what the client throws.
///
/// `reason` and `code` follow kube-apiserver (`NotFound`/404, `AlreadyExists`/409, `Conflict`/409,
/// `Invalid`/422, `BadRequest`/400, `Unauthorized`/401, `Forbidden`/403, `Expired`/`Gone` 410,
/// `MethodNotAllowed`/405, `UnsupportedMediaType`/415, `NotAcceptable`/406, `InternalError`/500).
public struct Status: Error, Sendable, Equatable, CustomStringConvertible {
    /// One cause of an `Invalid` error (`field`, `reason` such as `FieldValueRequired`, and a message).
    public struct Cause: Sendable, Equatable {
        public var type: String
        public var message: String
        public var field: String

        public init(type: String, message: String, field: String) {
            self.type = type
            self.message = message
            self.field = field
        }
    }

    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSON?

    public init(code: Int, reason: String, message: String, details: JSON? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(code) \(reason): \(message)" }

    /// The `Status` object as JSON, as sent on the wire.
    public var json: JSON {
        var o: JSON = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": .string(message),
            "reason": .string(reason),
        ]
        if let details { o["details"] = details }
        o["code"] = .int(Int64(code))
        return o
    }

    /// Reads a `Status` object; `nil` when `json` is not one.
    public init?(json: JSON) {
        guard json["kind"]?.stringValue == "Status", let code = json["code"]?.intValue else { return nil }
        self.init(
            code: Int(code), reason: json["reason"]?.stringValue ?? "", message: json["message"]?.stringValue ?? "",
            details: json["details"])
    }

    /// Field causes listed in `details.causes`.
    public var causes: [Cause] {
        (details?["causes"]?.arrayValue ?? []).map {
            Cause(
                type: $0["reason"]?.stringValue ?? "", message: $0["message"]?.stringValue ?? "",
                field: $0["field"]?.stringValue ?? "")
        }
    }

    static func details(name: String?, group: String, kind: String) -> JSON {
        var d: JSON = [:]
        if let name { d["name"] = .string(name) }
        if !group.isEmpty { d["group"] = .string(group) }
        d["kind"] = .string(kind)
        return d
    }

    private static func qualified(_ group: String, _ resource: String) -> String {
        group.isEmpty ? resource : "\(resource).\(group)"
    }

    public static func notFound(group: String, resource: String, name: String) -> Status {
        Status(
            code: 404, reason: "NotFound", message: "\(qualified(group, resource)) \"\(name)\" not found",
            details: details(name: name, group: group, kind: resource))
    }

    public static func alreadyExists(group: String, resource: String, name: String) -> Status {
        Status(
            code: 409, reason: "AlreadyExists", message: "\(qualified(group, resource)) \"\(name)\" already exists",
            details: details(name: name, group: group, kind: resource))
    }

    public static func conflict(group: String, resource: String, name: String, message: String) -> Status {
        Status(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(qualified(group, resource)) \"\(name)\": \(message)",
            details: details(name: name, group: group, kind: resource))
    }

    /// 422 Invalid with one cause per field error, worded like kube-apiserver.
    public static func invalid(group: String, kind: String, name: String, causes: [Cause]) -> Status {
        let list = causes.map { "\($0.field): \($0.message)" }
        let summary = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        var d = details(name: name, group: group, kind: kind)
        d["causes"] = .array(
            causes.map { ["reason": .string($0.type), "message": .string($0.message), "field": .string($0.field)] })
        return Status(
            code: 422, reason: "Invalid",
            message: "\(kind)\(group.isEmpty ? "" : "." + group) \"\(name)\" is invalid: \(summary)", details: d)
    }

    public static func badRequest(_ message: String) -> Status {
        Status(code: 400, reason: "BadRequest", message: message)
    }

    public static func unauthorized() -> Status {
        Status(code: 401, reason: "Unauthorized", message: "Unauthorized")
    }

    public static func gone(_ message: String) -> Status {
        Status(code: 410, reason: "Expired", message: message)
    }

    public static func methodNotAllowed(_ message: String) -> Status {
        Status(code: 405, reason: "MethodNotAllowed", message: message)
    }

    public static func unsupportedMediaType(_ contentType: String) -> Status {
        Status(
            code: 415, reason: "UnsupportedMediaType",
            message:
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
        )
    }

    public static func notAcceptable(_ message: String) -> Status {
        Status(code: 406, reason: "NotAcceptable", message: message)
    }

    public static func internalError(_ message: String) -> Status {
        Status(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }

    /// The generic 404 for a path that names no resource.
    public static func pathNotFound() -> Status {
        Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
    }
}
