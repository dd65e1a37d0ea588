import Netlink
import PylonTestKit
import Testing

/// rtnetlink link messages as the kernel lays them out (`ifinfomsg` then attributes, 4-byte aligned).
@Suite struct LinkDecodingTests {
    static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        let length = 4 + value.count
        var out = [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(type & 0xFF), UInt8(type >> 8)] + value
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// RTM_NEWLINK for eth0 (index 7, flags UP|BROADCAST|RUNNING|LOWER_UP, kind veth, master 3).
    static func newLink(sequence: UInt32 = 0) -> [UInt8] {
        var payload: [UInt8] = [0, 0, 1, 0, 7, 0, 0, 0]  // family, pad, type ARPHRD_ETHER, index 7
        payload += [0x43, 0x00, 0x01, 0x00, 0, 0, 0, 0]  // flags 0x10043, change
        payload += attribute(3, Array("eth0".utf8) + [0])
        payload += attribute(1, [0x02, 0, 0x5E, 0x10, 0, 1])
        payload += attribute(10, [3, 0, 0, 0])
        payload += attribute(18 | 0x8000, attribute(1, Array("veth".utf8) + [0]))
        let length = 16 + payload.count
        return [UInt8(length & 0xFF), UInt8(length >> 8), 0, 0, 16, 0, 2, 0]
            + [UInt8(sequence), 0, 0, 0, 0, 0, 0, 0] + payload
    }

    @Test func decodesALink() throws {
        let changes = try NetlinkEvent.parse(Self.newLink()[...])
        guard case .link(let link) = changes.first else {
            Issue.record("no link in \(changes)")
            return
        }
        #expect(link.index == 7 && link.name == "eth0" && link.hardwareType == Link.ethernet)
        #expect(link.flags.isSuperset(of: [.up, .broadcast, .running, .lowerUp]) && !link.flags.contains(.noARP))
        #expect(link.address == [0x02, 0, 0x5E, 0x10, 0, 1])
        #expect(link.master == 3 && link.kind == "veth")
    }

    @Test func splitsSeveralMessagesAndTheEndOfADump() throws {
        let done: [UInt8] = [20, 0, 0, 0, 3, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let changes = try NetlinkEvent.parse((Self.newLink() + Self.newLink() + done)[...])
        #expect(changes.count == 3 && changes.last == .dumpDone)
    }

    @Test func theDumpRequestIsWellFormed() throws {
        let request = NetlinkRequest.dumpLinks().bytes(sequence: 9)
        let messages = try NetlinkMessage.split(request[...])
        #expect(messages.count == 1)
        #expect(messages[0].type == NetlinkMessage.getLink && messages[0].sequence == 9)
        #expect(messages[0].flags == NetlinkMessage.flagRequest | NetlinkMessage.flagDump)
        #expect(messages[0].payload.count == 16)
    }

    @Test(arguments: [1, 2, 3])
    func hostileBytesNeverTrap(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let valid = Self.newLink()
        var failures = 0
        for _ in 0..<5_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &g) {
                if Bool.random(using: &g), !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                } else if !bytes.isEmpty {
                    bytes.removeLast(Int.random(in: 1...bytes.count, using: &g))
                }
            }
            do { _ = try NetlinkEvent.parse(bytes[...]) } catch { failures += 1 }
        }
        #expect(failures > 0, "some mutations are rejected with NetlinkError")
    }
}
