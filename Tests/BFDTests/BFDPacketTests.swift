import PylonTestKit
import Testing

@testable import BFD

/// The Control packet codec and the reception checks of RFC 5880 §6.8.6.
@Suite struct BFDPacketTests {
    static let up = BFDPacket(
        diagnostic: .none, state: .up, poll: true, detectMultiplier: 3, myDiscriminator: 0x0102_0304,
        yourDiscriminator: 0x0A0B_0C0D, desiredMinTxInterval: 300_000, requiredMinRxInterval: 250_000)

    @Test func encodesTheWireLayout() {
        #expect(
            Self.up.encoded() == [
                0x20, 0xE0, 3, 24,  // version 1, diag 0; state Up (3 << 6) + P; multiplier; length
                1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D,
                0x00, 0x04, 0x93, 0xE0,  // 300,000 µs
                0x00, 0x03, 0xD0, 0x90,  // 250,000 µs
                0, 0, 0, 0,
            ])
    }

    @Test func roundTrips() throws {
        for packet in [
            Self.up,
            BFDPacket(
                diagnostic: .controlDetectionTimeExpired, state: .down, final: true, controlPlaneIndependent: true,
                detectMultiplier: 1, myDiscriminator: 7, yourDiscriminator: 0, desiredMinTxInterval: 1_000_000,
                requiredMinRxInterval: 0, requiredMinEchoRxInterval: 50_000),
        ] {
            #expect(try BFDPacket.decode(ArraySlice(packet.encoded())) == packet)
        }
    }

    @Test(arguments: [
        ("three bytes", Array(BFDPacketTests.up.encoded().prefix(3)), BFDPacketError.truncated),
        ("20 bytes saying 24", Array(BFDPacketTests.up.encoded().prefix(20)), .badLength(24)),
        ("version 2", [0x40] + BFDPacketTests.up.encoded().dropFirst(), .unsupportedVersion(2)),
        ("length 20", BFDPacketTests.with(3, 20), .badLength(20)),
        ("length beyond the datagram", BFDPacketTests.with(3, 40), .badLength(40)),
        ("authentication", BFDPacketTests.with(1, 0xE4), .authenticationNotSupported),
        ("multiplier 0", BFDPacketTests.with(2, 0), .zeroDetectMultiplier),
        ("multipoint", BFDPacketTests.with(1, 0xC1), .multipoint),
        ("diagnostic 9", BFDPacketTests.with(0, 0x29), .unknownDiagnostic(9)),
        ("my discriminator 0", BFDPacketTests.with(4, 0, 5, 0, 6, 0, 7, 0), .zeroMyDiscriminator),
        ("your discriminator 0 while Up", BFDPacketTests.with(8, 0, 9, 0, 10, 0, 11, 0), .zeroYourDiscriminator(.up)),
    ])
    func rejects(_ name: String, _ bytes: [UInt8], _ expected: BFDPacketError) {
        #expect(throws: expected, "\(name)") { try BFDPacket.decode(ArraySlice(bytes)) }
    }

    /// `up` with the bytes at the given offsets replaced (offset, value, offset, value, …).
    static func with(_ changes: Int...) -> [UInt8] {
        var bytes = up.encoded()
        for i in stride(from: 0, to: changes.count, by: 2) { bytes[changes[i]] = UInt8(changes[i + 1]) }
        return bytes
    }

    /// Seeded mutations of valid packets: the decoder never traps, and what it accepts encodes back to the same
    /// first 24 bytes.
    @Test func fuzzedPacketsNeverTrap() {
        var generator = SeededGenerator(seed: 5880)
        var accepted = 0
        for i in 0..<20_000 {
            let base = i % 2 == 0 ? Self.up.encoded() : Self.with(1, 0x40, 8, 0, 9, 0, 10, 0, 11, 0)
            let mutated = ByteMutator.mutate(base, &generator)
            guard let packet = try? BFDPacket.decode(ArraySlice(mutated)) else { continue }
            accepted += 1
            #expect(packet.encoded() == Array(mutated.prefix(24)).enforcingLength())
        }
        #expect(accepted > 0)
    }
}

extension Array where Element == UInt8 {
    /// The bytes as `encoded()` writes them: the length field is always 24 (no authentication section).
    fileprivate func enforcingLength() -> [UInt8] {
        var bytes = self
        if bytes.count > 3 { bytes[3] = 24 }
        return bytes
    }
}
