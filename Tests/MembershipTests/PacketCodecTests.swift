import Crypto
import Testing

@testable import Membership

@Suite struct PacketCodecTests {
    static let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
    static let updates = [
        MemberUpdate(name: "node-a", address: "192.0.2.1:7946", incarnation: 5, state: .alive),
        MemberUpdate(name: "node-b", address: "[2001:db8::2]:7946", incarnation: 9, state: .suspect),
    ]

    @Test(arguments: [
        MembershipMessage.ping(sequence: 1, updates: updates),
        .ack(sequence: 0xFFFF_FFFF, updates: []),
        .pingRequest(sequence: 42, target: "node-c", address: "192.0.2.3:7946", updates: updates),
        .leave(incarnation: 1_764_000_000),
        .gossip(updates: updates),
    ])
    func roundTrip(_ message: MembershipMessage) throws {
        let packet = PacketCodec.seal(message, sender: "node-a", nonce: 77, key: Self.key)
        let opened = try PacketCodec.open(packet, key: Self.key)
        #expect(opened.sender == "node-a" && opened.nonce == 77 && opened.message == message)
    }

    @Test func forgedTamperedAndBrokenPacketsAreDroppedWithTheReason() {
        let packet = PacketCodec.seal(
            .ping(sequence: 1, updates: Self.updates), sender: "node-a", nonce: 1, key: Self.key)
        let otherKey = SymmetricKey(data: Array(repeating: UInt8(8), count: 32))
        #expect(throws: PacketCodec.Drop.badMAC) { try PacketCodec.open(packet, key: otherKey) }
        for index in [5, 10, packet.count / 2, packet.count - 1] {
            var tampered = packet
            tampered[index] ^= 0x01
            #expect(throws: PacketCodec.Drop.badMAC, "byte \(index)") { try PacketCodec.open(tampered, key: Self.key) }
        }
        var magic = packet
        magic[0] = UInt8(ascii: "X")
        #expect(throws: PacketCodec.Drop.badMagic) { try PacketCodec.open(magic, key: Self.key) }
        var version = packet
        version[4] = 2
        #expect(throws: PacketCodec.Drop.badVersion) { try PacketCodec.open(version, key: Self.key) }
        for length in 0..<37 {
            #expect(throws: PacketCodec.Drop.self, "length \(length)") {
                try PacketCodec.open(Array(packet.prefix(length)), key: Self.key)
            }
        }
        // A well-authenticated packet with a body that does not parse (a sender with a bad key can't make one;
        // a buggy peer with the right key can).
        var body =
            PacketCodec.magic + [PacketCodec.version, 1, UInt8(ascii: "a")] + Array(repeating: 0, count: 8) + [9]
        body += Array(HMAC<SHA256>.authenticationCode(for: body, using: Self.key))
        #expect(throws: PacketCodec.Drop.malformed) { try PacketCodec.open(body, key: Self.key) }
    }

    /// A name of 254 or 255 bytes fits the length byte but is longer than any peer sends: such a packet was
    /// opened, and its message re-sent with the name cut to 253 bytes (found by fuzz-membership). It is refused
    /// now; and a long name is cut between scalars, never inside one.
    @Test func stringsLongerThanTheLimitAreRefusedAndCutWhole() throws {
        for length in [254, 255] {
            var body =
                PacketCodec.magic + [PacketCodec.version, UInt8(length)]
                + Array(repeating: UInt8(ascii: "n"), count: length)
                + Array(repeating: 0, count: 8) + [5, 0]
            body += Array(HMAC<SHA256>.authenticationCode(for: body, using: Self.key))
            #expect(throws: PacketCodec.Drop.malformed, "\(length) bytes") { try PacketCodec.open(body, key: Self.key) }
        }
        let long = String(repeating: "é", count: 200)  // 400 bytes, two per scalar
        let packet = PacketCodec.seal(.gossip(updates: []), sender: "ab" + long, nonce: 1, key: Self.key)
        let opened = try PacketCodec.open(packet, key: Self.key)
        #expect(opened.sender == "ab" + String(repeating: "é", count: 125), "252 bytes: half an é would be byte 253")
    }

    @Test func replaysAreRefusedReorderingIsNot() {
        var guardian = ReplayGuard()
        let steps: [(UInt64, String, Bool, String)] = [
            (100, "a", true, "first"), (100, "a", false, "the same packet twice"), (103, "a", true, "newer"),
            (101, "a", true, "late but not seen"), (101, "a", false, "late and seen"), (100, "b", true, "per sender"),
            (1000, "a", true, "jump"), (103, "a", false, "too old to tell"), (999, "a", true, "inside the window"),
        ]
        for (nonce, sender, accepted, what) in steps {
            let result = guardian.accept(nonce, from: sender)
            #expect(result == accepted, "\(what)")
        }
    }
}
