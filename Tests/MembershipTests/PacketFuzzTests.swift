import Crypto
import PylonTestKit
import Testing

@testable import Membership

/// Seeded mutation fuzzing of the membership packet decoder, with the right key (so the parser behind the MAC
/// check is reached) and without it.
@Suite struct PacketFuzzTests {
    @Test(arguments: [11, 12, 13])
    func packetsNeverTrap(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let key = PacketCodecTests.key
        let valid = PacketCodec.seal(
            .pingRequest(sequence: 9, target: "node-c", address: "192.0.2.3:7946", updates: PacketCodecTests.updates),
            sender: "node-a", nonce: 5, key: key)
        let body = Array(valid.dropLast(32))
        var reasons = Set<PacketCodec.Drop>()
        for _ in 0..<3_000 {
            var mutated = body
            let i = Int.random(in: 0..<mutated.count, using: &g)
            mutated[i] = UInt8.random(in: 0...255, using: &g)
            if Bool.random(using: &g) { mutated.removeLast(Int.random(in: 0..<min(20, mutated.count), using: &g)) }
            // Re-authenticate, so the decoder behind the MAC sees the mutation.
            let resealed = mutated + Array(HMAC<SHA256>.authenticationCode(for: mutated, using: key))
            do {
                let opened = try PacketCodec.open(resealed, key: key)
                let again = PacketCodec.seal(opened.message, sender: opened.sender, nonce: opened.nonce, key: key)
                #expect(try PacketCodec.open(again, key: key).message == opened.message)
            } catch {
                reasons.insert(error)
            }
            // Without re-authentication every mutation is refused before parsing.
            var forged = valid
            forged[Int.random(in: 5..<forged.count, using: &g)] ^= 0x80
            #expect(throws: PacketCodec.Drop.badMAC) { try PacketCodec.open(forged, key: key) }
        }
        #expect(reasons.contains(.malformed) || reasons.contains(.truncated), "\(reasons)")
    }
}
