import KubeAPI

/// What the API layer answers: a status, a content type, and either a whole body or a stream of chunks (watches).
public struct APIResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case stream(AsyncStream<[UInt8]>)
    }

    public var status: Int
    public var contentType: String
    public var headers: [String: String]
    public var body: Body
    /// For a stream: what ends it when the client goes away without reading to the end (the HTTP layer calls it
    /// when the connection closes), so a vanished watcher holds nothing until its next event.
    public var onClientGone: (@Sendable () -> Void)?

    public init(
        status: Int, contentType: String = "application/json", headers: [String: String] = [:], body: Body,
        onClientGone: (@Sendable () -> Void)? = nil
    ) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.onClientGone = onClientGone
    }

    /// A JSON document response.
    public static func json(_ value: JSON, status: Int = 200) -> APIResponse {
        APIResponse(status: status, body: .bytes(value.serialized()))
    }

    /// Pre-serialized JSON bytes.
    public static func raw(_ bytes: [UInt8], status: Int = 200) -> APIResponse {
        APIResponse(status: status, body: .bytes(bytes))
    }

    /// A `metav1.Status` failure.
    public static func failure(_ status: Status) -> APIResponse {
        .json(status.json, status: status.code)
    }

    /// Plain text (health endpoints).
    public static func text(_ text: String, status: Int = 200) -> APIResponse {
        APIResponse(status: status, contentType: "text/plain; charset=utf-8", body: .bytes(Array(text.utf8)))
    }
}
