/// One request to the kernel: the message type and flags, then a payload of the type's fixed header (`ifinfomsg`,
/// `ifaddrmsg`, `rtmsg`, `ndmsg`) and attributes, laid out the way `iproute2` lays out the same request.
///
/// Pure value. The builders in the `NetlinkRequest+…` extensions make the requests Pylon sends; `bytes(sequence:)`
/// gives what goes on the socket.
public struct NetlinkRequest: Sendable, Equatable {
    public let type: UInt16
    public let flags: UInt16
    /// The fixed header and the attributes after it, each attribute padded to 4 bytes.
    public private(set) var payload: [UInt8]

    /// A request of `type` whose payload starts with `header` (the family's fixed header).
    public init(type: UInt16, flags: UInt16, header: [UInt8]) {
        self.type = type
        self.flags = flags
        self.payload = header
    }

    /// The message with its `nlmsghdr` (length, type, flags, `sequence`, port 0: the kernel's).
    public func bytes(sequence: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(NetlinkMessage.headerLength + payload.count)
        out.appendLE32(UInt32(NetlinkMessage.headerLength + payload.count))
        out.appendLE16(type)
        out.appendLE16(flags)
        out.appendLE32(sequence)
        out.appendLE32(0)
        return out + payload
    }

    /// Appends an attribute holding `value`, padded to 4 bytes.
    public mutating func append(_ type: UInt16, _ value: some Collection<UInt8>) {
        payload.appendLE16(UInt16(4 + value.count))
        payload.appendLE16(type)
        payload += value
        pad()
    }

    /// Appends a NUL-terminated string attribute.
    public mutating func append(_ type: UInt16, string: String) { append(type, Array(string.utf8) + [0]) }

    /// Appends a 32-bit attribute in host (little-endian) order, as rtnetlink takes numbers.
    public mutating func append(_ type: UInt16, u32 value: UInt32) {
        var bytes: [UInt8] = []
        bytes.appendLE32(value)
        append(type, bytes)
    }

    /// An attribute holding other attributes (or, for a veth peer, a header and attributes) that `body` appends.
    /// Its length covers the padding of what it holds, as the kernel's and iproute2's nests do.
    public mutating func nest(_ type: UInt16, _ body: (inout NetlinkRequest) -> Void) {
        let start = payload.count
        payload += [0, 0, UInt8(type & 0xFF), UInt8(type >> 8)]
        body(&self)
        let length = UInt16(payload.count - start)
        payload[start] = UInt8(length & 0xFF)
        payload[start + 1] = UInt8(length >> 8)
    }

    /// Appends bytes as they are (a fixed header inside a nest).
    public mutating func appendRaw(_ bytes: [UInt8]) {
        payload += bytes
        pad()
    }

    private mutating func pad() {
        while payload.count % 4 != 0 { payload.append(0) }
    }

    /// `NLM_F_REQUEST | NLM_F_ACK` plus `extra`.
    public static func acknowledged(_ extra: UInt16 = 0) -> UInt16 {
        NetlinkMessage.flagRequest | NetlinkMessage.flagAcknowledge | extra
    }

    /// A dump of every object of `type` (`NLM_F_DUMP`) in `family` (0: all), for which the header is `headerLength`
    /// bytes with only the family set.
    static func dump(_ type: UInt16, family: UInt8, headerLength: Int) -> NetlinkRequest {
        var header = [UInt8](repeating: 0, count: headerLength)
        header[0] = family
        return NetlinkRequest(
            type: type, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump, header: header)
    }
}
