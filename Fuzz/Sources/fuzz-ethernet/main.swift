import FuzzDriver
import Layer2

/// Frames a speaker's packet socket receives: Ethernet, then ARP or NDP as the EtherType says; each decoder
/// returns a value or a `DropReason`, never traps, and what decodes re-encodes to the same value.
func fuzzEthernet(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    _ = try? EthernetFrame(decoding: input[...])
    if let arp = try? ARPPacket(decoding: input[...]), (try? ARPPacket(decoding: arp.encoded()[...])) != arp {
        fatalError("ARP did not survive a round trip")
    }
    if let ndp = try? NDPMessage(decoding: input[...]), (try? NDPMessage(decoding: ndp.encoded()[...])) != ndp {
        fatalError("NDP did not survive a round trip")
    }
    return 0
}

runFuzzer(fuzzEthernet)
