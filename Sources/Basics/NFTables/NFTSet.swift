import Netlink

/// A named set or map of a table: keys of one type or a concatenation of types (`ipv4_addr . inet_proto .
/// inet_service`), and for a map the type of its values (a verdict, or data).
///
/// Pure value. Each field of a key takes a whole number of 4-byte registers, as the kernel lays concatenations out.
public struct NFTSet: Sendable, Equatable {
    /// A data type of a key or value field (`nft describe` names), with its length in bytes.
    public enum DataType: Sendable, Equatable {
        case ipv4Address
        case ipv6Address
        case inetProtocol
        case inetService
        case mark
        /// A plain number in host order (what `numgen` makes): 4 bytes.
        case integer
        case verdict

        /// The type's number in the kernel's `NFTA_SET_KEY_TYPE` (nft's `datatypes`).
        var number: UInt32 {
            switch self {
            case .ipv4Address: 7
            case .ipv6Address: 8
            case .inetProtocol: 12
            case .inetService: 13
            case .mark: 19
            case .integer: 4
            case .verdict: 0xFFFF_FF00
            }
        }

        var length: Int {
            switch self {
            case .ipv4Address, .mark, .integer: 4
            case .ipv6Address: 16
            case .inetProtocol: 1
            case .inetService: 2
            case .verdict: 0
            }
        }

        /// The length a field of this type takes in a concatenation (whole registers).
        var paddedLength: Int { (length + 3) / 4 * 4 }
    }

    public var name: String
    public var key: [DataType]
    /// The type of a map's values — a verdict, or data fields concatenated like the key's; empty for a set.
    public var value: [DataType]
    /// The set's id within a batch (`NFTA_SET_ID`), which rules and elements of the same batch may refer to.
    public var id: UInt32
    /// Filled from the packet path (`NFTExpression.updateSet`), its elements with timeouts (`flags dynamic,timeout`).
    public var dynamic: Bool

    public init(name: String, key: [DataType], value: [DataType] = [], id: UInt32 = 1, dynamic: Bool = false) {
        self.name = name
        self.key = key
        self.value = value
        self.id = id
        self.dynamic = dynamic
    }

    /// The concatenated type number: each field's number shifted in, 6 bits a field.
    public var keyType: UInt32 { Self.type(key) }
    public var keyLength: Int { Self.length(key) }
    public var valueType: UInt32 { Self.type(value) }
    public var valueLength: Int { Self.length(value) }

    private static func type(_ fields: [DataType]) -> UInt32 {
        fields.count == 1 ? fields[0].number : fields.reduce(0) { $0 << 6 | $1.number }
    }

    private static func length(_ fields: [DataType]) -> Int { fields.reduce(0) { $0 + $1.paddedLength } }

    /// The key bytes of an element: each field's bytes (network order; an `integer` in host order) padded with
    /// zeros to whole registers.
    /// - Precondition: one byte array per key field, each of the field's length.
    public func keyBytes(_ fields: [[UInt8]]) -> [UInt8] { Self.bytes(fields, key) }

    /// The value bytes of a data map's element, laid out as `keyBytes` lays out keys.
    public func valueBytes(_ fields: [[UInt8]]) -> [UInt8] { Self.bytes(fields, value) }

    private static func bytes(_ fields: [[UInt8]], _ types: [DataType]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (field, type) in zip(fields, types) {
            bytes += field + [UInt8](repeating: 0, count: type.paddedLength - field.count)
        }
        return bytes
    }
}

/// An element of a set or map: its key bytes (`NFTSet.keyBytes`) and, in a map, its value.
public struct NFTSetElement: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case verdict(NFTExpression.Verdict)
        /// `NFTSet.valueBytes`.
        case data([UInt8])
    }

    public var key: [UInt8]
    public var value: Value?

    public init(key: [UInt8], value: Value? = nil) {
        self.key = key
        self.value = value
    }

    /// An element of a verdict map.
    public init(key: [UInt8], verdict: NFTExpression.Verdict) {
        self.init(key: key, value: .verdict(verdict))
    }
}
