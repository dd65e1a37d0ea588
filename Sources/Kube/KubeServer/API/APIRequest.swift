/// One HTTP request as the API layer sees it, independent of the HTTP server that received it.
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: [UInt8]
    /// The remote address the request came from, whose watches `ClientLimits` counts; `nil` when unknown.
    public var client: String?

    /// - Parameter headers: header names in lower case.
    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
        body: [UInt8] = [], client: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client = client
    }

    /// Splits a request target (`/api/v1/pods?watch=1`) into path and decoded query parameters.
    public static func splitTarget(_ target: String) -> (path: String, query: [String: String]) {
        guard let q = target.firstIndex(of: "?") else { return (percentDecode(target), [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(String(kv[0]), plusAsSpace: true)
            query[key] = kv.count > 1 ? percentDecode(String(kv[1]), plusAsSpace: true) : ""
        }
        return (percentDecode(String(target[..<q])), query)
    }

    static func percentDecode(_ s: String, plusAsSpace: Bool = false) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2,
                let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                it = it.dropFirst(2)
            } else if plusAsSpace && b == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
