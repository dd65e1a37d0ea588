/// One rtnetlink message: the 16-byte `nlmsghdr` and the payload after it (kernel byte order, which on Linux is the
/// host's: little-endian on the machines Pylon supports).
///
/// Pure value; decoding never traps on hostile input and reports what is wrong as a `NetlinkError`.
public struct NetlinkMessage: Sendable, Equatable {
    public static let headerLength = 16

    // Message types (linux/netlink.h, linux/rtnetlink.h).
    public static let error: UInt16 = 2
    public static let done: UInt16 = 3
    public static let newLink: UInt16 = 16
    public static let deleteLink: UInt16 = 17
    public static let getLink: UInt16 = 18
    public static let setLink: UInt16 = 19
    public static let newAddress: UInt16 = 20
    public static let deleteAddress: UInt16 = 21
    public static let getAddress: UInt16 = 22
    public static let newRoute: UInt16 = 24
    public static let deleteRoute: UInt16 = 25
    public static let getRoute: UInt16 = 26
    public static let newNeighbour: UInt16 = 28
    public static let deleteNeighbour: UInt16 = 29
    public static let getNeighbour: UInt16 = 30

    // Request flags.
    public static let flagRequest: UInt16 = 0x1
    public static let flagMulti: UInt16 = 0x2
    public static let flagAcknowledge: UInt16 = 0x4
    public static let flagDump: UInt16 = 0x300
    public static let flagReplace: UInt16 = 0x100
    public static let flagExclusive: UInt16 = 0x200
    public static let flagCreate: UInt16 = 0x400
    // Flags of an `NLMSG_ERROR` answer: the echoed request is only its header; extended-ACK attributes follow.
    static let flagCapped: UInt16 = 0x100
    static let flagAcknowledgeTLVs: UInt16 = 0x200

    // Multicast groups (`RTMGRP_*`) announcing changes.
    public static let linkGroup: UInt32 = 0x1
    public static let neighbourGroup: UInt32 = 0x4
    public static let ipv4AddressGroup: UInt32 = 0x10
    public static let ipv4RouteGroup: UInt32 = 0x40
    public static let ipv6AddressGroup: UInt32 = 0x100
    public static let ipv6RouteGroup: UInt32 = 0x400

    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var payload: ArraySlice<UInt8>

    public init(type: UInt16, flags: UInt16, sequence: UInt32, payload: ArraySlice<UInt8>) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.payload = payload
    }

    /// Splits a datagram read from a netlink socket into its messages.
    /// - Throws: `NetlinkError.truncated` when a header or a declared length runs past the datagram.
    public static func split(_ datagram: ArraySlice<UInt8>) throws(NetlinkError) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= headerLength {
            let length = Int(datagram.le32(at: offset))
            guard length >= headerLength, offset + length <= datagram.endIndex else { throw .truncated }
            messages.append(
                NetlinkMessage(
                    type: datagram.le16(at: offset + 4), flags: datagram.le16(at: offset + 6),
                    sequence: datagram.le32(at: offset + 8),
                    payload: datagram[(offset + headerLength)..<(offset + length)]
                ))
            offset += align(length)
        }
        return messages
    }

    /// Splits `rtattr`s (length, type, value, padded to 4 bytes); the nested and byte-order flags are masked off
    /// the type.
    /// - Throws: `NetlinkError.truncated` when an attribute's length runs past `bytes` or is below its header.
    public static func attributes(_ bytes: ArraySlice<UInt8>) throws(NetlinkError) -> [(UInt16, ArraySlice<UInt8>)] {
        var out: [(UInt16, ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.le16(at: offset))
            guard length >= 4, offset + length <= bytes.endIndex else { throw .truncated }
            out.append((bytes.le16(at: offset + 2) & 0x3FFF, bytes[(offset + 4)..<(offset + length)]))
            offset += NetlinkMessage.align(length)
        }
        return out
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }
}

/// What is wrong with a netlink datagram.
public enum NetlinkError: Error, Sendable, Equatable {
    /// A header or a declared length runs past the data.
    case truncated
    /// An attribute holds a value of the wrong size or form (the attribute's name).
    case malformed(String)
}

extension ArraySlice<UInt8> {
    func le16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func le32(at i: Int) -> UInt32 { UInt32(le16(at: i)) | UInt32(le16(at: i + 2)) << 16 }
    func be16(at i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i + 1]) }

    /// The value of a 32-bit attribute.
    /// - Throws: `NetlinkError.malformed(name)` when the value is not 4 bytes.
    func u32(_ name: String) throws(NetlinkError) -> UInt32 {
        guard count == 4 else { throw .malformed(name) }
        return le32(at: startIndex)
    }

    /// The value of a NUL-terminated string attribute (a missing terminator is tolerated).
    var cString: String { String(decoding: prefix { $0 != 0 }, as: UTF8.self) }
}

extension [UInt8] {
    mutating func appendLE16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    mutating func appendLE32(_ v: UInt32) {
        appendLE16(UInt16(v & 0xFFFF))
        appendLE16(UInt16(v >> 16))
    }
}
