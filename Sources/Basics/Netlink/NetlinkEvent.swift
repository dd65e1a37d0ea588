/// One thing rtnetlink reported: an object in a dump or a change announced to a multicast group, or the end of a
/// dump.
public enum NetlinkEvent: Sendable, Equatable {
    /// A link appeared or changed (`RTM_NEWLINK`; dumps deliver every link this way).
    case link(Link)
    /// A link was removed (`RTM_DELLINK`).
    case linkRemoved(Link)
    case address(InterfaceAddress)
    case addressRemoved(InterfaceAddress)
    case route(Route)
    case routeRemoved(Route)
    case neighbour(Neighbour)
    case neighbourRemoved(Neighbour)
    /// The end of a dump (`NLMSG_DONE`).
    case dumpDone

    /// The events in one netlink datagram; messages of other types, and routes and neighbours of families other
    /// than IPv4, IPv6 (and bridge, for neighbours), are skipped.
    /// - Throws: `NetlinkError` when the datagram or one of its messages is malformed.
    public static func parse(_ datagram: ArraySlice<UInt8>) throws(NetlinkError) -> [NetlinkEvent] {
        var events: [NetlinkEvent] = []
        for message in try NetlinkMessage.split(datagram) {
            if let event = try NetlinkEvent(message) { events.append(event) }
        }
        return events
    }

    /// The event one message carries; nil for a message that carries none.
    /// - Throws: `NetlinkError` when the message is malformed.
    public init?(_ message: NetlinkMessage) throws(NetlinkError) {
        let payload = message.payload
        switch message.type {
        case NetlinkMessage.newLink: self = .link(try Link(decoding: payload))
        case NetlinkMessage.deleteLink: self = .linkRemoved(try Link(decoding: payload))
        case NetlinkMessage.newAddress: self = .address(try InterfaceAddress(decoding: payload))
        case NetlinkMessage.deleteAddress: self = .addressRemoved(try InterfaceAddress(decoding: payload))
        case NetlinkMessage.newRoute:
            guard let route = try Route(decoding: payload) else { return nil }
            self = .route(route)
        case NetlinkMessage.deleteRoute:
            guard let route = try Route(decoding: payload) else { return nil }
            self = .routeRemoved(route)
        case NetlinkMessage.newNeighbour:
            guard let neighbour = try Neighbour(decoding: payload) else { return nil }
            self = .neighbour(neighbour)
        case NetlinkMessage.deleteNeighbour:
            guard let neighbour = try Neighbour(decoding: payload) else { return nil }
            self = .neighbourRemoved(neighbour)
        case NetlinkMessage.done: self = .dumpDone
        default: return nil
        }
    }
}
