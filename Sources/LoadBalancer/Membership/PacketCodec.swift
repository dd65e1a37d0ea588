import Crypto

/// The wire form of membership traffic: every packet is authenticated with HMAC-SHA256 under the shared key and
/// carries a per-sender nonce that only increases, so tampered, forged and replayed packets are dropped.
///
/// Layout (big-endian): `PYLM` · version 1 · sender (length-prefixed UTF-8) · nonce (8) · message · MAC (32).
/// Message: type (1) · fields · updates (count, then name, address, incarnation (8), state (1) each).
public enum PacketCodec {
    public static let magic: [UInt8] = Array("PYLM".utf8)
    public static let version: UInt8 = 1
    static let macLength = 32
    /// Names and addresses longer than this are refused (they are node names and host:port).
    static let maxString = 253
    static let maxUpdates = 64

    /// Why a packet was dropped; the raw value is the `reason` label of the drop counter.
    public enum Drop: String, Error, Sendable, CaseIterable {
        case truncated
        case badMagic = "bad_magic"
        case badVersion = "bad_version"
        /// The MAC does not match: unauthenticated or tampered.
        case badMAC = "bad_mac"
        case replayed
        case malformed
    }

    /// Serialises and authenticates `message`.
    public static func seal(_ message: MembershipMessage, sender: String, nonce: UInt64, key: SymmetricKey) -> [UInt8] {
        var out = magic + [version]
        putString(sender, &out)
        put64(nonce, &out)
        encode(message, &out)
        out += Array(HMAC<SHA256>.authenticationCode(for: out, using: key))
        return out
    }

    /// Verifies and decodes a packet. Replay checking is the caller's (`ReplayGuard`), using the returned nonce.
    /// - Throws: `Drop` naming the first problem; the MAC is checked before anything after the header is trusted.
    public static func open(_ packet: [UInt8], key: SymmetricKey) throws(Drop) -> (
        sender: String, nonce: UInt64, message: MembershipMessage
    ) {
        guard packet.count >= magic.count + 1 + macLength else { throw .truncated }
        guard Array(packet.prefix(4)) == magic else { throw .badMagic }
        guard packet[4] == version else { throw .badVersion }
        let body = packet.dropLast(macLength)
        let mac = packet.suffix(macLength)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key) else { throw .badMAC }
        var r = Reader(bytes: body.dropFirst(5))
        let sender = try r.string()
        let nonce = try r.u64()
        let message = try decode(&r)
        guard r.bytes.isEmpty else { throw .malformed }
        return (sender, nonce, message)
    }

    static func encode(_ message: MembershipMessage, _ out: inout [UInt8]) {
        switch message {
        case .ping(let sequence, _):
            out.append(1)
            put32(sequence, &out)
        case .ack(let sequence, _):
            out.append(2)
            put32(sequence, &out)
        case .pingRequest(let sequence, let target, let address, _):
            out.append(3)
            put32(sequence, &out)
            putString(target, &out)
            putString(address, &out)
        case .leave(let incarnation):
            out.append(4)
            put64(incarnation, &out)
        case .gossip:
            out.append(5)
        }
        let updates = message.updates.prefix(maxUpdates)
        out.append(UInt8(updates.count))
        for u in updates {
            putString(u.name, &out)
            putString(u.address, &out)
            put64(u.incarnation, &out)
            out.append(u.state.rawValue)
        }
    }

    static func decode(_ r: inout Reader) throws(Drop) -> MembershipMessage {
        let type = try r.u8()
        var head: (UInt32, String, String, UInt64) = (0, "", "", 0)
        switch type {
        case 1, 2: head.0 = try r.u32()
        case 3:
            head.0 = try r.u32()
            head.1 = try r.string()
            head.2 = try r.string()
        case 4: head.3 = try r.u64()
        case 5: break
        default: throw .malformed
        }
        let count = Int(try r.u8())
        guard count <= maxUpdates else { throw .malformed }
        var updates: [MemberUpdate] = []
        for _ in 0..<count {
            let name = try r.string()
            let address = try r.string()
            let incarnation = try r.u64()
            guard let state = MemberUpdate.State(rawValue: try r.u8()) else { throw .malformed }
            updates.append(MemberUpdate(name: name, address: address, incarnation: incarnation, state: state))
        }
        switch type {
        case 1: return .ping(sequence: head.0, updates: updates)
        case 2: return .ack(sequence: head.0, updates: updates)
        case 3: return .pingRequest(sequence: head.0, target: head.1, address: head.2, updates: updates)
        case 5: return .gossip(updates: updates)
        default:
            guard updates.isEmpty else { throw .malformed }
            return .leave(incarnation: head.3)
        }
    }

    /// Writes at most `maxString` bytes of `s`, cut between scalars so that what is sent is still UTF-8.
    static func putString(_ s: String, _ out: inout [UInt8]) {
        if s.utf8.count <= maxString {
            out.append(UInt8(s.utf8.count))
            out += s.utf8
            return
        }
        var bytes: [UInt8] = []
        for scalar in s.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            guard bytes.count + encoded.count <= maxString else { break }
            bytes += encoded
        }
        out.append(UInt8(bytes.count))
        out += bytes
    }

    static func put32(_ v: UInt32, _ out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    static func put64(_ v: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func take(_ n: Int) throws(Drop) -> ArraySlice<UInt8> {
            guard bytes.count >= n else { throw .truncated }
            defer { bytes = bytes.dropFirst(n) }
            return bytes.prefix(n)
        }

        mutating func u8() throws(Drop) -> UInt8 { try take(1).first! }
        mutating func u32() throws(Drop) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func u64() throws(Drop) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }

        mutating func string() throws(Drop) -> String {
            let length = Int(try u8())
            // What `putString` never writes is refused, not kept: a longer string would not survive a resend.
            guard length <= PacketCodec.maxString else { throw .malformed }
            guard let s = String(validating: try take(length), as: UTF8.self) else { throw .malformed }
            return s
        }
    }
}
