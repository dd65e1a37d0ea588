import NetCore

extension NetlinkRequest {
    /// `RTM_NEWNEIGH` with `NLM_F_CREATE | NLM_F_REPLACE` (`ip neigh replace`, `bridge fdb replace`): adds the entry
    /// or overwrites the one for the same address. An IP neighbour carries its address then its MAC; an FDB entry
    /// its MAC then the remote VTEP, as iproute2 sends them.
    public static func replaceNeighbour(_ neighbour: Neighbour) -> NetlinkRequest {
        neighbourRequest(
            NetlinkMessage.newNeighbour,
            flags: acknowledged(NetlinkMessage.flagCreate | NetlinkMessage.flagReplace), neighbour)
    }

    /// `RTM_DELNEIGH`: removes an IP neighbour (by address) or an FDB entry (by MAC and VTEP).
    public static func deleteNeighbour(_ neighbour: Neighbour) -> NetlinkRequest {
        var match = neighbour
        if case .ip = neighbour.family { match.linkAddress = nil }
        return neighbourRequest(NetlinkMessage.deleteNeighbour, flags: acknowledged(), match)
    }

    /// `RTM_GETNEIGH` dump of every neighbour of `family` (for `.bridge`: the forwarding databases).
    public static func dumpNeighbours(_ family: Neighbour.Family) -> NetlinkRequest {
        dump(NetlinkMessage.getNeighbour, family: family.kernelFamily, headerLength: 12)
    }

    private static func neighbourRequest(_ type: UInt16, flags: UInt16, _ neighbour: Neighbour) -> NetlinkRequest {
        var header: [UInt8] = [neighbour.family.kernelFamily, 0, 0, 0]
        header.appendLE32(UInt32(bitPattern: neighbour.index))
        header.appendLE16(neighbour.state.rawValue)
        header += [neighbour.flags.rawValue, 0]
        var request = NetlinkRequest(type: type, flags: flags, header: header)
        let destination = neighbour.destination.map { (Neighbour.attributeDestination, $0.bytes) }
        let link = neighbour.linkAddress.map { (Neighbour.attributeLinkAddress, $0.bytes) }
        let ordered = neighbour.family == .bridge ? [link, destination] : [destination, link]
        for case let (type, value)? in ordered { request.append(type, value) }
        return request
    }
}
