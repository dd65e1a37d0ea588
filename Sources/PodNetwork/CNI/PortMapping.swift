import NetCore

/// One `portMappings` entry of `runtimeConfig` (the capability a runtime fills from a pod's `hostPort`s): traffic
/// for `hostPort` on the node (on `hostIP` only, when given) goes to `containerPort` of the pod.
///
/// Pure value.
public struct PortMapping: Sendable, Hashable {
    public enum TransportProtocol: String, Sendable, Hashable {
        case tcp, udp, sctp
    }

    public var hostPort: UInt16
    public var containerPort: UInt16
    public var transport: TransportProtocol
    public var hostIP: IPAddress?

    public init(hostPort: UInt16, containerPort: UInt16, transport: TransportProtocol, hostIP: IPAddress? = nil) {
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.transport = transport
        self.hostIP = hostIP
    }

    /// Reads `{hostPort, containerPort, protocol, hostIP}`.
    /// - Throws: `CNIError.invalidConfig` naming the field.
    init(_ object: ConfigObject) throws(CNIError) {
        guard let host = try object.int("hostPort", in: 1...65535) else {
            throw CNIError(.invalidConfig, "\(object.name("hostPort")) is missing")
        }
        guard let container = try object.int("containerPort", in: 1...65535) else {
            throw CNIError(.invalidConfig, "\(object.name("containerPort")) is missing")
        }
        let name = (try object.string("protocol") ?? "tcp").lowercased()
        guard let transport = TransportProtocol(rawValue: name) else {
            throw CNIError(.invalidConfig, "\(object.name("protocol")) must be tcp, udp or sctp, not \"\(name)\"")
        }
        hostPort = UInt16(host)
        containerPort = UInt16(container)
        self.transport = transport
        if let text = try object.string("hostIP"), !text.isEmpty {
            guard let ip = IPAddress(text) else {
                throw CNIError(.invalidConfig, "\(object.name("hostIP")) \"\(text)\" is not an IP address")
            }
            hostIP = ip
        }
    }
}
