import Netlink

extension NetlinkRequest {
    /// `NFNL_SUBSYS_NFTABLES`, the high byte of every nftables message type.
    static let nftablesSubsystem: UInt16 = 10
    static let nested: UInt16 = 0x8000

    /// The frame of a batch: every nftables change travels between a begin and an end message and is applied all at
    /// once or not at all.
    public static let batchBegin = NetlinkRequest(
        type: 0x10, flags: NetlinkMessage.flagRequest, header: [0, 0, 0, UInt8(nftablesSubsystem)])
    public static let batchEnd = NetlinkRequest(
        type: 0x11, flags: NetlinkMessage.flagRequest, header: [0, 0, 0, UInt8(nftablesSubsystem)])

    /// `NFT_MSG_NEWTABLE` without `NLM_F_EXCL`: creates the table, or leaves it as it is.
    public static func addTable(_ name: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(0, family: family, flags: 0)
        request.append(1, string: name)  // NFTA_TABLE_NAME
        request.append(2, be32: 0)  // NFTA_TABLE_FLAGS
        return request
    }

    /// `NFT_MSG_DELTABLE`: removes the table and everything in it.
    public static func deleteTable(_ name: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(2, family: family, flags: 0)
        request.append(1, string: name)
        return request
    }

    /// `NFT_MSG_NEWCHAIN` without `NLM_F_EXCL`: creates the chain, or leaves it as it is.
    public static func addChain(_ chain: NFTChain, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(3, family: family, flags: NetlinkMessage.flagCreate)
        request.append(1, string: table)  // NFTA_CHAIN_TABLE
        request.append(3, string: chain.name)  // NFTA_CHAIN_NAME
        if let base = chain.base {
            request.append(7, string: base.type)  // NFTA_CHAIN_TYPE
            request.nest(4 | nested) { hook in  // NFTA_CHAIN_HOOK
                hook.append(1, be32: base.hook.rawValue)
                hook.append(2, be32: UInt32(bitPattern: base.priority))
            }
        }
        return request
    }

    /// `NFT_MSG_DELCHAIN`: removes a chain that holds no rule any other rule or element jumps to (refused otherwise).
    public static func deleteChain(_ name: String, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(5, family: family, flags: 0)
        request.append(1, string: table)  // NFTA_CHAIN_TABLE
        request.append(3, string: name)  // NFTA_CHAIN_NAME
        return request
    }

    /// `NFT_MSG_NEWRULE` appending `rule` to its chain.
    public static func addRule(_ rule: NFTRule, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(6, family: family, flags: NetlinkMessage.flagCreate | 0x800)  // NLM_F_APPEND
        request.append(NFTRule.tableAttribute, string: table)
        request.append(NFTRule.chainAttribute, string: rule.chain)
        request.nest(NFTRule.expressionsAttribute | nested) { list in
            for expression in rule.expressions { expression.encode(into: &list) }
        }
        if let userData = rule.userData { request.append(NFTRule.userDataAttribute, userData) }
        return request
    }

    /// `NFT_MSG_DELRULE` for the rule with `handle` in `chain`.
    public static func deleteRule(handle: UInt64, chain: String, table: String, family: NFTFamily) -> NetlinkRequest {
        var request = nftables(8, family: family, flags: 0)
        request.append(NFTRule.tableAttribute, string: table)
        request.append(NFTRule.chainAttribute, string: chain)
        request.append(
            NFTRule.handleAttribute, (0..<8).map { UInt8(truncatingIfNeeded: handle >> (56 - 8 * UInt64($0))) })
        return request
    }

    /// `NFT_MSG_GETRULE` dump of every rule of `table`.
    public static func dumpRules(table: String, family: NFTFamily) -> NetlinkRequest {
        var request = NetlinkRequest(
            type: nftablesSubsystem << 8 | 7, flags: NetlinkMessage.flagRequest | NetlinkMessage.flagDump,
            header: [family.rawValue, 0, 0, 0])
        request.append(NFTRule.tableAttribute, string: table)
        return request
    }

    /// The type of an nftables message answering a dump of rules.
    public static let nftablesNewRule: UInt16 = nftablesSubsystem << 8 | 6

    /// An nftables message inside a batch: acknowledged, so the kernel reports on each one.
    static func nftables(_ message: UInt16, family: NFTFamily, flags: UInt16) -> NetlinkRequest {
        NetlinkRequest(
            type: nftablesSubsystem << 8 | message, flags: acknowledged(flags), header: [family.rawValue, 0, 0, 0])
    }
}
