/// What `pylon proxy` answers on a Service's `healthCheckNodePort`, as kube-proxy does: 200 while this node has a
/// local endpoint of the Service and the proxy is healthy, 503 otherwise (an external load balancer then sends the
/// Service's traffic only to nodes that keep it, `externalTrafficPolicy: Local`); a JSON body naming the Service
/// and the count, which `X-Load-Balancing-Endpoint-Weight` repeats.
///
/// Pure value.
public struct HealthCheckReply: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: String

    public init(namespace: String, name: String, localEndpoints: Int, proxyHealthy: Bool) {
        status = localEndpoints > 0 && proxyHealthy ? 200 : 503
        body = """
            {
            \t"service": {
            \t\t"namespace": \(Self.quoted(namespace)),
            \t\t"name": \(Self.quoted(name))
            \t},
            \t"localEndpoints": \(localEndpoints),
            \t"serviceProxyHealthy": \(proxyHealthy)
            }
            """
        headers = [
            ("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"),
            ("X-Load-Balancing-Endpoint-Weight", "\(localEndpoints)"),
        ]
    }

    /// A JSON string (names are DNS labels; quotes and backslashes escaped all the same).
    static func quoted(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }
}
