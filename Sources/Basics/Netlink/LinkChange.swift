/// A change to the set of links, read from rtnetlink.
public enum LinkChange: Sendable, Equatable {
    /// A link appeared or changed (`RTM_NEWLINK`; dumps deliver every link this way).
    case updated(Link)
    /// A link was removed (`RTM_DELLINK`).
    case removed(Link)
    /// The end of a dump (`NLMSG_DONE`).
    case dumpDone

    /// The link changes in one netlink datagram; messages of other types are skipped.
    /// - Throws: `NetlinkError` when the datagram or a link message is malformed.
    public static func parse(_ datagram: ArraySlice<UInt8>) throws(NetlinkError) -> [LinkChange] {
        var changes: [LinkChange] = []
        for message in try NetlinkMessage.split(datagram) {
            switch message.type {
            case NetlinkMessage.newLink: changes.append(.updated(try Link(decoding: message.payload)))
            case NetlinkMessage.deleteLink: changes.append(.removed(try Link(decoding: message.payload)))
            case NetlinkMessage.done: changes.append(.dumpDone)
            default: continue
            }
        }
        return changes
    }
}
