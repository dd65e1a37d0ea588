import NetCore
import Testing

@testable import Netlink

/// Conntrack entries as a ctnetlink dump lists them, and the requests that ask for and delete them.
@Suite struct ConntrackEntryTests {
    /// A dump message of a UDP flow from 192.0.2.20:40000 to 10.43.0.10:53 translated to 10.42.0.2:9000.
    static func message(status: UInt32 = 0x1AA) -> NetlinkMessage {
        var entry = NetlinkRequest(type: 1 << 8, flags: 0, header: [2, 0, 0, 0])
        func tuple(_ type: UInt16, source: [UInt8], destination: [UInt8], ports: (UInt16, UInt16)) {
            entry.nest(type | 0x8000) { tuple in
                tuple.nest(1 | 0x8000) { ip in
                    ip.append(1, source)
                    ip.append(2, destination)
                }
                tuple.nest(2 | 0x8000) { proto in
                    proto.append(1, [17])
                    proto.append(2, [UInt8(ports.0 >> 8), UInt8(ports.0 & 0xFF)])
                    proto.append(3, [UInt8(ports.1 >> 8), UInt8(ports.1 & 0xFF)])
                }
            }
        }
        tuple(1, source: [192, 0, 2, 20], destination: [10, 43, 0, 10], ports: (40000, 53))
        tuple(2, source: [10, 42, 0, 2], destination: [192, 0, 2, 20], ports: (9000, 40000))
        entry.append(3, (0..<4).map { UInt8(truncatingIfNeeded: status >> (24 - 8 * UInt32($0))) })
        let bytes = entry.bytes(sequence: 7)
        return NetlinkMessage(type: 1 << 8, flags: 2, sequence: 7, payload: bytes[16...])
    }

    @Test func anEntryGivesItsEndpointAndItsOriginalTuple() throws {
        let entry = try #require(try ConntrackEntry(Self.message()))
        #expect(entry.replySource == IPAddress("10.42.0.2") && entry.replySourcePort == 9000)
        #expect(entry.translated, "IPS_DST_NAT is set in 0x1aa")
        #expect(try ConntrackEntry(Self.message(status: 0x08))?.translated == false)
        // The original tuple goes back to the kernel unchanged: its attribute opens the delete request's payload.
        let delete = NetlinkRequest.deleteConntrack(entry, family: .ipv4).bytes(sequence: 1)
        #expect(Array(delete[20...]) == entry.originalTuple)
        #expect(delete[4] == 2 && delete[5] == 1, "IPCTNL_MSG_CT_DELETE in the ctnetlink subsystem")
        #expect(entry.originalTuple.count == 52 && entry.originalTuple[2] == 1, "CTA_TUPLE_ORIG, whole")
    }

    @Test func otherMessagesAndTruncatedOnesAreNoEntries() throws {
        #expect(try ConntrackEntry(NetlinkMessage(type: 3, flags: 0, sequence: 1, payload: [0, 0, 0, 0])) == nil)
        var broken = Self.message()
        broken.payload = broken.payload.dropLast(10)
        #expect(throws: NetlinkError.self) { try ConntrackEntry(broken) }
    }

    @Test func aDumpAsksTheKernelToFilterByOriginalDestination() {
        let request = NetlinkRequest.dumpConntrack(
            destination: IPAddress("10.43.0.10"), port: 53, transport: 17, family: .ipv4
        ).bytes(sequence: 1)
        #expect(request[4] == 1 && request[5] == 1, "IPCTNL_MSG_CT_GET")
        #expect(request[6] & 0x01 != 0 && request[7] == 0x03, "a dump request")
        #expect(request.count > 20)
        let text = request.map { String($0, radix: 16) }.joined(separator: " ")
        #expect(text.contains("a 2b 0 a"), "the service address in the tuple: \(text)")
        // CTA_FILTER with CTA_FILTER_ORIG_FLAGS = IP_DST | PROTO_NUM | PROTO_DST_PORT (0x2a).
        #expect(Array(request.suffix(16)) == [8, 0, 1, 0, 0x2A, 0, 0, 0, 8, 0, 2, 0, 0, 0, 0, 0])
    }
}
