import NetCore
import Netlink

/// One nftables expression of a rule, as the kernel takes it (`NFTA_LIST_ELEM` { name, data }), built in the same
/// layout `nft` builds for the same rule text.
///
/// Pure value. Registers are the 16-byte ones `nft` uses: 0 is the verdict, 1 … 4 hold data.
public enum NFTExpression: Sendable, Equatable {
    /// Where a payload lies: the network header (IP) or the transport header (TCP/UDP).
    public enum PayloadBase: UInt32, Sendable {
        case network = 1
        case transport = 2
    }

    /// A comparison operator (`NFT_CMP_*`).
    public enum Comparison: UInt32, Sendable {
        case equal = 0
        case notEqual = 1
    }

    /// A verdict: where a packet goes next.
    public enum Verdict: Sendable, Equatable {
        case accept
        case drop
        case `return`
        case jump(String)
        case goto(String)
    }

    /// `meta l4proto` into `register`.
    case transportProtocol(register: UInt32)
    /// `meta mark` (the packet's mark, 4 bytes in host order) into `register`.
    case mark(register: UInt32)
    /// `length` bytes at `offset` of the header at `base` into `register`.
    case payload(base: PayloadBase, offset: UInt32, length: UInt32, register: UInt32)
    /// `register` compared with `value`.
    case compare(Comparison, register: UInt32, value: [UInt8])
    /// `register` masked with `mask` (for prefixes: `ip daddr 10.42.0.0/24`).
    case mask(register: UInt32, mask: [UInt8])
    /// `register` and `mask`, written as an explicit boolean operation (`meta mark and 0x4000`): the same as `mask`
    /// but for the operation attribute `nft` adds to it.
    case and(register: UInt32, mask: [UInt8])
    /// `value` into `register`.
    case immediate(register: UInt32, value: [UInt8])
    /// A verdict.
    case verdict(Verdict)
    /// `fib daddr type` into `register` (the route type of the destination address: 2 is local).
    case destinationAddressType(register: UInt32)
    /// `dnat to` the address in `addressRegister` and the port in `portRegister`, of IPv4 or IPv6 (`family`).
    /// `nft` marks the port as given (`NF_NAT_RANGE_PROTO_SPECIFIED`) for a literal port, not for one a map yields;
    /// the kernel sets the flag itself when a port register is given, so both mean the same.
    case destinationNAT(family: UInt8, addressRegister: UInt32, portRegister: UInt32, markPortSpecified: Bool = true)
    /// `ct status` (the connection's `IPS_*` bits, 4 bytes in host order) into `register`.
    case conntrackStatus(register: UInt32)
    /// `reject`: an ICMP (or ICMPv6) port unreachable — a TCP connect fails at once.
    case reject(IPFamily)
    /// `numgen random mod modulus` into `register`: 0 … modulus−1, a fresh one per packet (per connection in nat
    /// chains, which see only a connection's first packet).
    case randomNumber(modulus: UInt32, register: UInt32)
    /// `masquerade`.
    case masquerade
    /// `masquerade fully-random`: source ports picked at random, so parallel flows never race for one (flannel's
    /// choice).
    case masqueradeFullyRandom
    /// The key in `sourceRegister` (on) looked up in the named set: a match, or with `destinationRegister` 0 the
    /// map's verdict (`vmap @set`). `setID` names a set added in the same batch.
    case lookup(set: String, sourceRegister: UInt32, destinationRegister: UInt32?, setID: UInt32?)
    /// `update @set { key timeout T : data }` from the packet path: adds the element with the key in `keyRegister`
    /// (and for a map the value in `dataRegister`) to a dynamic set, or refreshes the timeout of the one there (its
    /// value is left as it is). `timeout` in milliseconds.
    case updateSet(set: String, keyRegister: UInt32, dataRegister: UInt32?, timeout: UInt64?, setID: UInt32?)

    static let elementAttribute: UInt16 = 1
    static let nameAttribute: UInt16 = 1
    static let dataAttribute: UInt16 = 2
    static let nested: UInt16 = 0x8000

    /// Appends `NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA }`.
    func encode(into request: inout NetlinkRequest) {
        request.nest(Self.elementAttribute | Self.nested) { element in
            element.append(Self.nameAttribute, string: name)
            element.nest(Self.dataAttribute | Self.nested) { data in encodeData(into: &data) }
        }
    }

    var name: String {
        switch self {
        case .transportProtocol, .mark: "meta"
        case .conntrackStatus: "ct"
        case .reject: "reject"
        case .payload: "payload"
        case .compare: "cmp"
        case .mask, .and: "bitwise"
        case .immediate, .verdict: "immediate"
        case .destinationAddressType: "fib"
        case .destinationNAT: "nat"
        case .masquerade, .masqueradeFullyRandom: "masq"
        case .lookup: "lookup"
        case .randomNumber: "numgen"
        case .updateSet: "dynset"
        }
    }

    private func encodeData(into data: inout NetlinkRequest) {
        switch self {
        case .transportProtocol(let register):
            data.append(2, be32: 16)  // NFTA_META_KEY: NFT_META_L4PROTO
            data.append(1, be32: register)  // NFTA_META_DREG
        case .mark(let register):
            data.append(2, be32: 3)  // NFTA_META_KEY: NFT_META_MARK
            data.append(1, be32: register)
        case .payload(let base, let offset, let length, let register):
            data.append(1, be32: register)  // NFTA_PAYLOAD_DREG
            data.append(2, be32: base.rawValue)
            data.append(3, be32: offset)
            data.append(4, be32: length)
        case .compare(let comparison, let register, let value):
            data.append(1, be32: register)  // NFTA_CMP_SREG
            data.append(2, be32: comparison.rawValue)
            data.nest(3 | Self.nested) { $0.append(1, value) }  // NFTA_CMP_DATA { NFTA_DATA_VALUE }
        case .mask(let register, let mask):
            data.append(1, be32: register)  // NFTA_BITWISE_SREG
            data.append(2, be32: register)  // NFTA_BITWISE_DREG
            data.append(3, be32: UInt32(mask.count))  // NFTA_BITWISE_LEN
            data.nest(4 | Self.nested) { $0.append(1, mask) }  // NFTA_BITWISE_MASK
            data.nest(5 | Self.nested) { $0.append(1, [UInt8](repeating: 0, count: mask.count)) }  // XOR
        case .and(let register, let mask):
            data.append(1, be32: register)
            data.append(2, be32: register)
            data.append(6, be32: 0)  // NFTA_BITWISE_OP: NFT_BITWISE_BOOL
            data.append(3, be32: UInt32(mask.count))
            data.nest(4 | Self.nested) { $0.append(1, mask) }
            data.nest(5 | Self.nested) { $0.append(1, [UInt8](repeating: 0, count: mask.count)) }
        case .immediate(let register, let value):
            data.append(1, be32: register)  // NFTA_IMMEDIATE_DREG
            data.nest(2 | Self.nested) { $0.append(1, value) }
        case .verdict(let verdict):
            data.append(1, be32: 0)
            data.nest(2 | Self.nested) { verdict.encode(into: &$0) }
        case .destinationAddressType(let register):
            data.append(3, be32: 2)  // NFTA_FIB_FLAGS: NFTA_FIB_F_DADDR
            data.append(2, be32: 3)  // NFTA_FIB_RESULT: NFT_FIB_RESULT_ADDRTYPE
            data.append(1, be32: register)  // NFTA_FIB_DREG
        case .destinationNAT(let family, let addressRegister, let portRegister, let markPortSpecified):
            data.append(1, be32: 1)  // NFTA_NAT_TYPE: NFT_NAT_DNAT
            data.append(2, be32: UInt32(family))
            data.append(3, be32: addressRegister)  // NFTA_NAT_REG_ADDR_MIN
            data.append(5, be32: portRegister)  // NFTA_NAT_REG_PROTO_MIN
            if markPortSpecified { data.append(7, be32: 2) }  // NFTA_NAT_FLAGS: NF_NAT_RANGE_PROTO_SPECIFIED
        case .masquerade: break
        case .masqueradeFullyRandom:
            data.append(1, be32: 0x10)  // NFTA_MASQ_FLAGS: NF_NAT_RANGE_PROTO_RANDOM_FULLY
        case .lookup(let set, let source, let destination, let id):
            data.append(2, be32: source)  // NFTA_LOOKUP_SREG
            if let destination { data.append(3, be32: destination) }  // NFTA_LOOKUP_DREG
            data.append(1, string: set)  // NFTA_LOOKUP_SET
            if let id { data.append(4, be32: id) }  // NFTA_LOOKUP_SET_ID
        case .conntrackStatus(let register):
            data.append(2, be32: 2)  // NFTA_CT_KEY: NFT_CT_STATUS
            data.append(1, be32: register)  // NFTA_CT_DREG
        case .reject(let family):
            data.append(1, be32: 0)  // NFTA_REJECT_TYPE: NFT_REJECT_ICMP_UNREACH
            data.append(2, [family == .ipv4 ? 3 : 4])  // NFTA_REJECT_ICMP_CODE: port unreachable
        case .updateSet(let set, let key, let dataRegister, let timeout, let id):
            data.append(4, be32: key)  // NFTA_DYNSET_SREG_KEY
            if let dataRegister { data.append(5, be32: dataRegister) }  // NFTA_DYNSET_SREG_DATA
            data.append(3, be32: 1)  // NFTA_DYNSET_OP: NFT_DYNSET_OP_UPDATE
            if let timeout {  // NFTA_DYNSET_TIMEOUT, big-endian 64 bits
                data.append(6, (0..<8).map { UInt8(truncatingIfNeeded: timeout >> (56 - 8 * UInt64($0))) })
            }
            data.append(1, string: set)  // NFTA_DYNSET_SET_NAME
            if let id { data.append(2, be32: id) }  // NFTA_DYNSET_SET_ID
        case .randomNumber(let modulus, let register):
            data.append(1, be32: register)  // NFTA_NG_DREG
            data.append(2, be32: modulus)  // NFTA_NG_MODULUS
            data.append(3, be32: 1)  // NFTA_NG_TYPE: NFT_NG_RANDOM
            data.append(4, be32: 0)  // NFTA_NG_OFFSET
        }
    }
}

extension NFTExpression.Verdict {
    /// Appends `NFTA_DATA_VERDICT { NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN }` (in a rule's immediate or a map
    /// element's value).
    func encode(into value: inout NetlinkRequest) {
        value.nest(2 | NFTExpression.nested) { encoded in
            switch self {
            case .accept: encoded.append(1, be32: 1)
            case .drop: encoded.append(1, be32: 0)
            case .return: encoded.append(1, be32: UInt32(bitPattern: -5))
            case .jump(let chain):
                encoded.append(1, be32: UInt32(bitPattern: -3))
                encoded.append(2, string: chain)
            case .goto(let chain):
                encoded.append(1, be32: UInt32(bitPattern: -4))
                encoded.append(2, string: chain)
            }
        }
    }
}

extension NetlinkRequest {
    /// Appends a 32-bit attribute in network order, as nftables takes numbers.
    mutating func append(_ type: UInt16, be32 value: UInt32) {
        append(
            type, [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}
