import BFD
import FuzzDriver

/// BFD Control packets from the network: decoding returns a packet or a `BFDPacketError`, never traps, and a
/// decoded packet re-encodes to the same one.
func fuzzBFD(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    if let packet = try? BFDPacket.decode(input[...]), (try? BFDPacket.decode(packet.encoded()[...])) != packet {
        fatalError("a BFD packet did not survive a round trip: \(packet)")
    }
    return 0
}

runFuzzer(fuzzBFD)
