/// One rtnetlink message: the 16-byte `nlmsghdr` and the payload after it (kernel byte order, which on Linux is the
/// host's: little-endian on the machines Pylon supports).
///
/// Pure value; decoding never traps on hostile input and reports what is wrong as a `NetlinkError`.
public struct NetlinkMessage: Sendable, Equatable {
    public static let headerLength = 16
    public static let done: UInt16 = 3
    public static let error: UInt16 = 2
    public static let newLink: UInt16 = 16
    public static let deleteLink: UInt16 = 17
    public static let getLink: UInt16 = 18
    public static let flagRequest: UInt16 = 0x1
    public static let flagDump: UInt16 = 0x300
    /// `RTMGRP_LINK`: the multicast group announcing link changes.
    public static let linkGroup: UInt32 = 1

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

    /// The request for a dump of every link (`RTM_GETLINK` with `NLM_F_DUMP`).
    public static func linkDumpRequest(sequence: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        let length = UInt32(headerLength + 16)
        out.appendLE32(length)
        out.appendLE16(getLink)
        out.appendLE16(flagRequest | flagDump)
        out.appendLE32(sequence)
        out.appendLE32(0)
        out += [UInt8](repeating: 0, count: 16)  // ifinfomsg: any family, any link
        return out
    }

    /// For `NLMSG_ERROR`: the negated errno (0 is an acknowledgement).
    public var errorCode: Int32? {
        guard type == Self.error, payload.count >= 4 else { return nil }
        return Int32(bitPattern: payload.le32(at: payload.startIndex))
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }
}

/// What is wrong with a netlink datagram.
public enum NetlinkError: Error, Sendable, Equatable {
    /// A header or a declared length runs past the data.
    case truncated
}

extension ArraySlice<UInt8> {
    func le16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func le32(at i: Int) -> UInt32 { UInt32(le16(at: i)) | UInt32(le16(at: i + 2)) << 16 }
}

extension [UInt8] {
    mutating func appendLE16(_ v: UInt16) { append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8)]) }
    mutating func appendLE32(_ v: UInt32) {
        appendLE16(UInt16(v & 0xFFFF))
        appendLE16(UInt16(v >> 16))
    }
}
