import BGP
import FuzzDriver

/// What a BGP peer sends: the framer splits a stream into messages or a NOTIFICATION, each message decodes or
/// gives a NOTIFICATION (RFC 7606), never a trap, and a cleanly decoded message re-encodes to the same one.
func fuzzBGP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    var framer = BGPFramer()
    framer.append(input)
    var frames = 0
    while frames < 64, let frame = try? framer.next() {
        frames += 1
        for external in [false, true] {
            guard let message = try? BGPMessage.decode(frame, external: external) else { continue }
            // An UPDATE kept as treat-as-withdraw or with attributes discarded (RFC 7606) re-encodes without what
            // was wrong with it: only a clean message must come back the same.
            if case .update(let update) = message, update.treatAsWithdraw != nil || !update.discarded.isEmpty {
                continue
            }
            if (try? BGPMessage.decode(message.encoded()[...], external: external)) != message {
                fatalError("a BGP message did not survive a round trip: \(message)")
            }
        }
    }
    return 0
}

runFuzzer(fuzzBGP)
