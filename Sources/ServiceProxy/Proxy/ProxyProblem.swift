/// Something the proxy skips because it cannot route it, and why: a log line and the `reason` label of
/// `pylon_proxy_skipped_total`. Everything else keeps working.
public struct ProxyProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// A Service port without a valid number or protocol.
        case malformedPort = "malformed_port"
        /// A Service address (cluster, external, ingress) that is not an IP address.
        case badAddress = "bad_address"
        /// An EndpointSlice endpoint whose address or port is garbage.
        case badEndpoint = "bad_endpoint"
        /// A service address and port, or a node port, that another Service holds already.
        case duplicateAddress = "duplicate_address"
    }

    public var reason: Reason
    /// `namespace/name` of the Service or EndpointSlice.
    public var object: String
    public var message: String

    public init(_ reason: Reason, object: String, _ message: String) {
        self.reason = reason
        self.object = object
        self.message = message
    }

    public var description: String { "\(object): \(message)" }
}
