import NetCore
import Netlink

/// A rule: its expressions and a comment (kept by the kernel as the rule's user data, as `nft … comment "…"` keeps
/// it), which is how Pylon finds its rules again; read back from a dump with the handle that deletes it.
///
/// Pure value.
public struct NFTRule: Sendable, Equatable {
    public var chain: String
    public var expressions: [NFTExpression]
    public var comment: String?
    /// The kernel's handle (in a dump; nil in a rule to add).
    public var handle: UInt64?

    public init(chain: String, expressions: [NFTExpression], comment: String? = nil, handle: UInt64? = nil) {
        self.chain = chain
        self.expressions = expressions
        self.comment = comment
        self.handle = handle
    }

    static let tableAttribute: UInt16 = 1
    static let chainAttribute: UInt16 = 2
    static let handleAttribute: UInt16 = 3
    static let expressionsAttribute: UInt16 = 4
    static let userDataAttribute: UInt16 = 7

    /// Reads the chain, handle and comment of an `NFT_MSG_NEWRULE` message of a dump (the expressions are not read
    /// back).
    /// - Throws: `NetlinkError` when an attribute runs past the message or the handle is not 8 bytes.
    public init(decoding payload: ArraySlice<UInt8>) throws(NetlinkError) {
        guard payload.count >= 4 else { throw .truncated }
        chain = ""
        expressions = []
        for (type, value) in try NetlinkMessage.attributes(payload.dropFirst(4)) {
            switch type {
            case Self.chainAttribute: chain = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            case Self.handleAttribute:
                guard value.count == 8 else { throw .malformed("NFTA_RULE_HANDLE") }
                handle = value.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            case Self.userDataAttribute:
                // Type-length-value entries; type 0 is the comment (NUL-terminated).
                var rest = value
                while rest.count >= 2 {
                    let kind = rest[rest.startIndex]
                    let length = Int(rest[rest.startIndex + 1])
                    guard rest.count >= 2 + length else { throw .malformed("NFTA_RULE_USERDATA") }
                    let body = rest.dropFirst(2).prefix(length)
                    if kind == 0 { comment = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self) }
                    rest = rest.dropFirst(2 + length)
                }
            default: break
            }
        }
    }

    /// `comment` as user data: one type-length-value entry of type 0 with the NUL-terminated text.
    var userData: [UInt8]? {
        guard let comment else { return nil }
        let text = Array(comment.utf8.prefix(126)) + [0]
        return [0, UInt8(text.count)] + text
    }
}
