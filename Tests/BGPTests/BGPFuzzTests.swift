import PylonTestKit
import Testing

@testable import BGP

/// Seeded mutation fuzzing of the BGP decoder and framer: any bytes give a message or a NOTIFICATION, never a trap,
/// and whatever decodes cleanly re-encodes to the same message.
@Suite struct BGPFuzzTests {
    static let seeds: [[UInt8]] = [
        BGPMessage.open(BGPCodecTests.open).encoded(), BGPMessage.update(BGPCodecTests.update).encoded(),
        BGPMessage.update(BGPCodecTests.update6).encoded(), BGPMessage.keepalive.encoded(),
        BGPMessage.notification(.cease(4)).encoded(), BGPMessage.routeRefresh(.ipv4Unicast).encoded(),
    ]

    @Test(arguments: [1, 2, 3, 4])
    func theDecoderNeverTraps(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var notifications = Set<String>()
        var decoded = 0
        for i in 0..<20_000 {
            let bytes = ByteMutator.mutate(Self.seeds[i % Self.seeds.count], &g)
            do {
                let message = try BGPMessage.decode(bytes[...], external: false)
                decoded += 1
                if case .update(let update) = message, update.treatAsWithdraw != nil || !update.discarded.isEmpty {
                    continue
                }
                #expect(
                    try BGPMessage.decode(message.encoded()[...], external: false) == message,
                    "seed \(seed) input \(bytes)")
            } catch {
                notifications.insert("\(error.code)/\(error.subcode)")
            }
        }
        #expect(decoded > 0)
        #expect(notifications.count >= 8, "mutations reach many checks: \(notifications.sorted())")
    }

    @Test(arguments: [5, 6])
    func theFramerNeverTrapsOrBuffersMoreThanAMessage(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        for _ in 0..<2_000 {
            var framer = BGPFramer()
            let stream = Self.seeds.flatMap { ByteMutator.mutate($0, &g) }
            var offset = 0
            streaming: while offset < stream.count {
                let chunk = Int.random(in: 1...64, using: &g)
                framer.append(stream[offset..<min(offset + chunk, stream.count)])
                offset += chunk
                do {
                    while let message = try framer.next() {
                        #expect(message.count <= BGPMessage.maximumLength)
                        _ = try? BGPMessage.decode(message)
                    }
                } catch {
                    break streaming
                }
            }
        }
    }
}
