import NetCore

extension NetlinkRequest {
    /// `RTM_NEWADDR` with `NLM_F_CREATE | NLM_F_EXCL` (EEXIST when the interface has the address), or with
    /// `NLM_F_REPLACE` instead of `NLM_F_EXCL` when `replace` is set. Attributes in iproute2's order: local,
    /// broadcast, address.
    public static func addAddress(_ address: InterfaceAddress, replace: Bool = false) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: NetlinkMessage.newAddress,
            flags: acknowledged(
                NetlinkMessage.flagCreate | (replace ? NetlinkMessage.flagReplace : NetlinkMessage.flagExclusive)),
            header: addressHeader(address))
        request.append(InterfaceAddress.attributeLocal, address.address.bytes)
        if let broadcast = address.broadcast { request.append(InterfaceAddress.attributeBroadcast, broadcast.bytes) }
        request.append(InterfaceAddress.attributeAddress, address.address.bytes)
        if address.flags.rawValue > 0xFF {
            request.append(InterfaceAddress.attributeFlags, u32: address.flags.rawValue)
        }
        return request
    }

    /// `RTM_DELADDR` for `address` on its interface.
    public static func deleteAddress(_ address: InterfaceAddress) -> NetlinkRequest {
        var plain = address
        plain.flags = []
        var request = NetlinkRequest(
            type: NetlinkMessage.deleteAddress, flags: acknowledged(), header: addressHeader(plain))
        request.append(InterfaceAddress.attributeLocal, address.address.bytes)
        request.append(InterfaceAddress.attributeAddress, address.address.bytes)
        return request
    }

    /// `RTM_GETADDR` dump of every address of `family` (nil: both).
    public static func dumpAddresses(_ family: IPFamily? = nil) -> NetlinkRequest {
        dump(NetlinkMessage.getAddress, family: family?.kernelFamily ?? 0, headerLength: 8)
    }

    private static func addressHeader(_ address: InterfaceAddress) -> [UInt8] {
        var header: [UInt8] = [
            address.address.family.kernelFamily, UInt8(address.prefixLength),
            UInt8(truncatingIfNeeded: address.flags.rawValue), address.scope,
        ]
        header.appendLE32(UInt32(bitPattern: address.index))
        return header
    }
}
