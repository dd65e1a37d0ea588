import NetCore

extension NetlinkRequest {
    /// `RTM_NEWLINK` with `NLM_F_CREATE | NLM_F_EXCL`: creates `template`, failing with EEXIST when a link of that
    /// name exists. Attributes in iproute2's order: MTU, address, master, namespace, name, link info.
    public static func createLink(_ template: LinkTemplate) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: NetlinkMessage.newLink,
            flags: acknowledged(NetlinkMessage.flagCreate | NetlinkMessage.flagExclusive),
            header: interfaceHeader(index: 0, set: template.up ? .up : [], change: template.up ? .up : []))
        request.appendLinkSettings(
            mtu: template.mtu, queue: template.transmitQueueLength, address: template.address?.bytes,
            master: template.master, namespace: template.namespaceDescriptor, name: template.name)
        request.nest(Link.attributeLinkInfo) { info in
            info.append(Link.linkInfoKind, Array(template.kind.name.utf8))  // unterminated, as `ip` sends it
            switch template.kind {
            case .bridge: break
            case .veth(let peer):
                info.nest(Link.linkInfoData) { data in
                    data.nest(1) { peerInfo in  // VETH_INFO_PEER: an ifinfomsg, then the peer's attributes
                        peerInfo.appendRaw(interfaceHeader(index: 0, set: [], change: []))
                        peerInfo.appendLinkSettings(
                            mtu: peer.mtu, queue: peer.transmitQueueLength, address: peer.address?.bytes,
                            master: nil, namespace: peer.namespaceDescriptor, name: peer.name)
                    }
                }
            case .vxlan(let settings):
                info.nest(Link.linkInfoData) { settings.encode(into: &$0) }
            }
        }
        return request
    }

    /// `RTM_NEWLINK` for the link at `index`: applies `update`. Flags travel in the header, the rest as
    /// attributes in iproute2's order.
    public static func updateLink(_ index: Int32, _ update: LinkUpdate) -> NetlinkRequest {
        var set: Link.Flags = []
        var change: Link.Flags = []
        if let up = update.up {
            change.insert(.up)
            if up { set.insert(.up) }
        }
        if let promiscuous = update.promiscuous {
            change.insert(.promiscuous)
            if promiscuous { set.insert(.promiscuous) }
        }
        var request = NetlinkRequest(
            type: NetlinkMessage.newLink, flags: acknowledged(),
            header: interfaceHeader(index: index, set: set, change: change))
        request.appendLinkSettings(
            mtu: update.mtu, queue: nil, address: update.address?.bytes, master: update.master,
            namespace: update.namespaceDescriptor, name: update.name)
        return request
    }

    /// `RTM_SETLINK` in family `AF_BRIDGE` for the bridge port at `index`: hairpin mode on or off (a frame may
    /// leave by the port it came in on, so a pod reaches itself through its Service), as `bridge link set … hairpin`.
    public static func setBridgePort(_ index: Int32, hairpin: Bool) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: NetlinkMessage.setLink, flags: acknowledged(),
            header: interfaceHeader(index: index, set: [], change: [], family: 7))
        request.nest(Link.attributeProtocolInfo | 0x8000) { info in  // NLA_F_NESTED, as `bridge` marks it
            info.append(4, [hairpin ? 1 : 0])  // IFLA_BRPORT_MODE
        }
        return request
    }

    /// `RTM_DELLINK` for the link at `index` (a veth's peer goes with it).
    public static func deleteLink(_ index: Int32) -> NetlinkRequest {
        NetlinkRequest(
            type: NetlinkMessage.deleteLink, flags: acknowledged(),
            header: interfaceHeader(index: index, set: [], change: []))
    }

    /// `RTM_GETLINK` for the link named `name` (answered with one `RTM_NEWLINK`, or ENODEV).
    public static func getLink(named name: String) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: NetlinkMessage.getLink, flags: NetlinkMessage.flagRequest,
            header: interfaceHeader(index: 0, set: [], change: []))
        request.append(Link.attributeName, string: name)
        return request
    }

    /// `RTM_GETLINK` dump of every link.
    public static func dumpLinks() -> NetlinkRequest { dump(NetlinkMessage.getLink, family: 0, headerLength: 16) }

    /// `ifinfomsg`: family unspecified, type 0, `index`, flags and the mask of flags to change.
    static func interfaceHeader(index: Int32, set: Link.Flags, change: Link.Flags, family: UInt8 = 0) -> [UInt8] {
        var header: [UInt8] = [family, 0, 0, 0]
        header.appendLE32(UInt32(bitPattern: index))
        header.appendLE32(set.rawValue)
        header.appendLE32(change.rawValue)
        return header
    }

    private mutating func appendLinkSettings(
        mtu: UInt32?, queue: UInt32?, address: [UInt8]?, master: Int32?, namespace: Int32?, name: String?
    ) {
        if let mtu { append(Link.attributeMTU, u32: mtu) }
        if let queue { append(Link.attributeTransmitQueueLength, u32: queue) }
        if let address { append(Link.attributeAddress, address) }
        if let master { append(Link.attributeMaster, u32: UInt32(bitPattern: master)) }
        if let namespace { append(Link.attributeNamespaceDescriptor, u32: UInt32(bitPattern: namespace)) }
        if let name { append(Link.attributeName, string: name) }
    }
}
