import NetCore

/// One range of an IPAM range set, with host-local's defaults filled in: the first address after the network
/// address as gateway and as start (the iteration skips the gateway), the last address before the broadcast address
/// (IPv4) or the last address (IPv6) as end.
///
/// Pure value.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    public let subnet: IPNetwork
    public let start: IPAddress
    public let end: IPAddress
    public let gateway: IPAddress

    /// Checks and completes a range as host-local does.
    /// - Throws: `CNIError.invalidConfig` naming `path` when the subnet has host bits set or is too small (a /31 or
    ///   /32, a /127 or /128), or when the start, end or gateway is malformed or outside the subnet.
    public init(
        subnet text: String, start: String? = nil, end: String? = nil, gateway: String? = nil, path: String
    ) throws(CNIError) {
        guard let slash = text.firstIndex(of: "/"), let address = IPAddress(text[..<slash]),
            let subnet = IPNetwork(text)
        else { throw CNIError(.invalidConfig, "\(path).subnet \"\(text)\" is not a CIDR") }
        guard subnet.address == address else {
            throw CNIError(
                .invalidConfig,
                "\(path).subnet \(text) has host bits set: the network of a /\(subnet.prefixLength) is \(subnet)")
        }
        guard subnet.prefixLength <= subnet.family.bitWidth - 2 else {
            throw CNIError(.invalidConfig, "\(path).subnet \(text) is too small to allocate from")
        }
        func member(_ value: String?, _ key: String) throws(CNIError) -> IPAddress? {
            guard let value else { return nil }
            guard let ip = IPAddress(value) else {
                throw CNIError(.invalidConfig, "\(path).\(key) \"\(value)\" is not an IP address")
            }
            guard subnet.contains(ip) else {
                throw CNIError(.invalidConfig, "\(path).\(key) \(value) is not in \(subnet)")
            }
            return ip
        }
        let first = subnet.address(at: 1)!
        let last = subnet.address(at: subnet.size - (subnet.family == .ipv4 ? 2 : 1))!
        self.subnet = subnet
        self.gateway = try member(gateway, "gateway") ?? first
        self.start = try member(start, "rangeStart") ?? first
        self.end = try member(end, "rangeEnd") ?? last
        guard self.start <= self.end else {
            throw CNIError(.invalidConfig, "\(path).rangeStart \(self.start) is after rangeEnd \(self.end)")
        }
    }

    /// Whether `ip` is an address of the range (between start and end, inclusive).
    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == subnet.family && start <= ip && ip <= end
    }

    func overlaps(_ other: AddressRange) -> Bool {
        contains(other.start) || contains(other.end) || other.contains(start) || other.contains(end)
    }

    /// `start-end`, as host-local names a range in its messages.
    public var description: String { "\(start)-\(end)" }
}
