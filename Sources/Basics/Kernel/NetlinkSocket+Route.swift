import NetCore
import Netlink

extension NetlinkSocket {
    /// Every link in the socket's namespace.
    /// - Throws: `NetlinkSocketError` when the dump fails.
    public func links() throws(NetlinkSocketError) -> [Link] {
        try dump(.dumpLinks()).compactMap { if case .link(let link) = $0 { link } else { nil } }
    }

    /// The link named `name`, or nil when there is none.
    /// - Throws: `NetlinkSocketError` when the query fails.
    public func link(named name: String) throws(NetlinkSocketError) -> Link? {
        guard case .link(let link) = try query(.getLink(named: name)) else { return nil }
        return link
    }

    /// Every address of `family` (nil: both), on every interface.
    /// - Throws: `NetlinkSocketError` when the dump fails.
    public func addresses(_ family: IPFamily? = nil) throws(NetlinkSocketError) -> [InterfaceAddress] {
        try dump(.dumpAddresses(family)).compactMap { if case .address(let address) = $0 { address } else { nil } }
    }

    /// Every route of `family` (nil: both) in every table.
    /// - Throws: `NetlinkSocketError` when the dump fails.
    public func routes(_ family: IPFamily? = nil) throws(NetlinkSocketError) -> [Route] {
        try dump(.dumpRoutes(family)).compactMap { if case .route(let route) = $0 { route } else { nil } }
    }

    /// Every neighbour of `family` (`.bridge`: every forwarding-database entry).
    /// - Throws: `NetlinkSocketError` when the dump fails.
    public func neighbours(_ family: Neighbour.Family) throws(NetlinkSocketError) -> [Neighbour] {
        try dump(.dumpNeighbours(family)).compactMap { if case .neighbour(let n) = $0 { n } else { nil } }
    }
}
