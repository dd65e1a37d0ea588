import Netlink

extension NetlinkRequest {
    /// `NFT_MSG_NEWSET` without `NLM_F_EXCL`: creates the set or map, or leaves it as it is. No user data: `nft`
    /// keeps byte orders there for printing only.
    public static func addSet(_ set: NFTSet, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(9, family: family, flags: NetlinkMessage.flagCreate)
        request.append(1, string: table)  // NFTA_SET_TABLE
        request.append(2, string: set.name)  // NFTA_SET_NAME
        // NFTA_SET_FLAGS: NFT_SET_MAP, NFT_SET_TIMEOUT | NFT_SET_EVAL
        request.append(3, be32: (set.value.isEmpty ? 0 : 0x08) | (set.dynamic ? 0x30 : 0))
        request.append(4, be32: set.keyType)  // NFTA_SET_KEY_TYPE
        request.append(5, be32: UInt32(set.keyLength))  // NFTA_SET_KEY_LEN
        if !set.value.isEmpty {
            request.append(6, be32: set.valueType)  // NFTA_SET_DATA_TYPE
            request.append(7, be32: UInt32(set.valueLength))  // NFTA_SET_DATA_LEN
        }
        request.append(10, be32: set.id)  // NFTA_SET_ID
        return request
    }

    /// `NFT_MSG_DELSET`: removes the set and its elements (refused while a rule uses it).
    public static func deleteSet(_ name: String, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(11, family: family, flags: 0)
        request.append(1, string: table)
        request.append(2, string: name)
        return request
    }

    /// `NFT_MSG_NEWSETELEM`: adds `elements` to the set (an element already there is left as it is).
    public static func addElements(
        _ elements: [NFTSetElement], to set: NFTSet, table: String, family: NFTFamily
    ) -> NetlinkRequest {
        var request = nftables(12, family: family, flags: NetlinkMessage.flagCreate)
        request.append(1, string: table)  // NFTA_SET_ELEM_LIST_TABLE
        request.append(2, string: set.name)  // NFTA_SET_ELEM_LIST_SET
        request.append(4, be32: set.id)  // NFTA_SET_ELEM_LIST_SET_ID
        request.appendElements(elements)
        return request
    }

    /// `NFT_MSG_DELSETELEM`: removes the elements with these keys (a missing one fails the batch).
    public static func deleteElements(_ keys: [[UInt8]], from set: String, table: String, family: NFTFamily)
        -> NetlinkRequest
    {
        var request = nftables(14, family: family, flags: 0)
        request.append(1, string: table)
        request.append(2, string: set)
        request.appendElements(keys.map { NFTSetElement(key: $0) })
        return request
    }

    /// `NFT_MSG_GETSETELEM` for one key: the kernel answers with the element, or refuses with ENOENT when the set
    /// holds no such key (`NetlinkSocket.dumpMessages`).
    public static func getElement(_ key: [UInt8], from set: String, table: String, family: NFTFamily)
        -> NetlinkRequest
    {
        var request = nftables(13, family: family, flags: 0)
        request.append(1, string: table)
        request.append(2, string: set)
        request.appendElements([NFTSetElement(key: key)])
        return request
    }

    /// `NFTA_SET_ELEM_LIST_ELEMENTS`: each element's key (`NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE }`) and verdict.
    private mutating func appendElements(_ elements: [NFTSetElement]) {
        nest(3 | NFTExpression.nested) { list in
            for element in elements {
                list.nest(1 | NFTExpression.nested) { item in
                    item.nest(1 | NFTExpression.nested) { $0.append(1, element.key) }
                    switch element.value {
                    case .verdict(let verdict)?:
                        item.nest(2 | NFTExpression.nested) { verdict.encode(into: &$0) }  // NFTA_SET_ELEM_DATA
                    case .data(let bytes)?:
                        item.nest(2 | NFTExpression.nested) { $0.append(1, bytes) }  // { NFTA_DATA_VALUE }
                    case nil:
                        break
                    }
                }
            }
        }
    }
}
