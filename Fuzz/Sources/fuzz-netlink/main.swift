import FuzzDriver
import Netlink

/// rtnetlink replies and events: a datagram parses into events or a `NetlinkError`,
/// and an error answer into a `KernelError`; nothing traps.
func fuzzNetlink(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    _ = try? NetlinkEvent.parse(input[...])
    _ = try? Link(decoding: input[...])
    for message in (try? NetlinkMessage.split(input[...])) ?? [] where message.type == NetlinkMessage.error {
        _ = try? KernelError(decoding: message)
    }
    return 0
}

runFuzzer(fuzzNetlink)
