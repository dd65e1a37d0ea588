import Layer2
import NetCore
import PylonTestKit
import Testing

/// Seeded, reproducible mutation fuzzing of every frame decoder: whatever the bytes, decoding returns a value or
/// a typed `DropReason` — it never traps — and whatever decodes re-encodes to something that decodes the same.
@Suite struct DecoderFuzzTests {
    @Test(arguments: [1, 2, 3, 4])
    func arpFramesNeverTrap(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        var decoded = 0
        for _ in 0..<5_000 {
            let bytes = ByteMutator.mutate(CodecTests.arpRequestFrame, &g)
            guard let frame = try? EthernetFrame(decoding: bytes[...]),
                let arp = try? ARPPacket(decoding: frame.payload)
            else { continue }
            decoded += 1
            #expect(try ARPPacket(decoding: arp.encoded()[...]) == arp, "seed \(seed)")
        }
        #expect(decoded > 0, "some mutations stay valid")
    }

    @Test(arguments: [1, 2, 3, 4])
    func ndpPacketsNeverTrap(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let valid = [
            CodecTests.solicitation().encoded(),
            CodecTests.solicitation().advertisement(from: CodecTests.mac).encoded(),
        ]
        var reasons = Set<DropReason>()
        for i in 0..<5_000 {
            let bytes = ByteMutator.mutate(valid[i % 2], &g)
            do {
                let message = try NDPMessage(decoding: bytes[...])
                #expect(try NDPMessage(decoding: message.encoded()[...]) == message, "seed \(seed)")
            } catch {
                reasons.insert(error)
            }
        }
        #expect(reasons.count >= 4, "mutations reach several checks: \(reasons)")
    }
}
