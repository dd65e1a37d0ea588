import FuzzDriver
import Netlink

/// rtnetlink replies and events: a datagram parses into link changes or a `NetlinkError`, never traps.
func fuzzNetlink(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    _ = try? LinkChange.parse(input[...])
    _ = try? Link(decoding: input[...])
    return 0
}

runFuzzer(fuzzNetlink)
