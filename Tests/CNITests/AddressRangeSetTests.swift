import CNI
import NetCore
import Testing

/// host-local's allocation order, which Pylon must follow for the two plugins to share a store.
@Suite struct AddressRangeSetTests {
    static func set(_ ranges: [(String, String?, String?, String?)]) throws -> AddressRangeSet {
        try AddressRangeSet(
            ranges.map { r throws(CNIError) in
                try AddressRange(subnet: r.0, start: r.1, end: r.2, gateway: r.3, path: "test")
            }, path: "test")
    }

    static func first(_ count: Int, _ set: AddressRangeSet, after last: String?) -> [String] {
        Array(set.candidates(after: last.flatMap { IPAddress($0) }).prefix(count)).map(\.description)
    }

    @Test func aSubnetStartsAfterItsGatewayAndEndsBeforeBroadcast() throws {
        let set = try Self.set([("10.42.0.0/24", nil, nil, nil)])
        #expect(set.ranges[0].gateway == IPAddress("10.42.0.1") && set.ranges[0].start == IPAddress("10.42.0.1"))
        #expect(set.ranges[0].end == IPAddress("10.42.0.254"))
        #expect(Self.first(2, set, after: nil) == ["10.42.0.2", "10.42.0.3"])
        #expect(Array(set.candidates(after: nil)).count == 253, "every address but the gateway, once")
        let v6 = try Self.set([("2001:db8::/126", nil, nil, nil)])
        #expect(Array(v6.candidates(after: nil)).map(\.description) == ["2001:db8::2", "2001:db8::3"])
    }

    @Test func roundRobinResumesAfterTheLastReservedAndWraps() throws {
        let set = try Self.set([("10.42.0.0/29", nil, nil, nil)])  // .1 gateway, .2 … .6
        #expect(
            Self.first(10, set, after: "10.42.0.4") == [
                "10.42.0.5", "10.42.0.6", "10.42.0.2", "10.42.0.3", "10.42.0.4",
            ])
        #expect(
            Self.first(10, set, after: "10.42.0.6") == [
                "10.42.0.2", "10.42.0.3", "10.42.0.4", "10.42.0.5", "10.42.0.6",
            ])
        #expect(Self.first(1, set, after: "10.42.9.9") == ["10.42.0.2"], "a last address outside the set is ignored")
    }

    @Test func rangesOfASetFollowEachOther() throws {
        let set = try Self.set([
            ("10.42.2.0/24", "10.42.2.100", "10.42.2.101", nil),
            ("10.42.3.0/24", "10.42.3.1", "10.42.3.2", "10.42.3.2"),
        ])
        #expect(Self.first(9, set, after: nil) == ["10.42.2.100", "10.42.2.101", "10.42.3.1"])
        #expect(Self.first(9, set, after: "10.42.2.101") == ["10.42.3.1", "10.42.2.100", "10.42.2.101"])
    }

    @Test(arguments: [
        ("10.42.0.1/24", "has host bits set: the network of a /24 is 10.42.0.0/24"),
        ("10.42.0.0/31", "is too small to allocate from"), ("nonsense", "is not a CIDR"),
    ])
    func badSubnetsAreRefused(subnet: String, message: String) {
        #expect {
            _ = try AddressRange(subnet: subnet, path: "ipam.ranges[0][0]")
        } throws: { error in
            let error = error as? CNIError
            return error?.code == .invalidConfig && error?.message.contains(message) == true
        }
    }

    @Test func overlappingOrMixedRangesAreRefused() throws {
        #expect(throws: CNIError.self) {
            _ = try Self.set([("10.42.0.0/24", nil, nil, nil), ("10.42.0.0/25", nil, nil, nil)])
        }
        #expect(throws: CNIError.self) {
            _ = try Self.set([("10.42.0.0/24", nil, nil, nil), ("2001:db8::/64", nil, nil, nil)])
        }
        #expect(throws: CNIError.self) { _ = try Self.set([("10.42.0.0/24", "10.42.1.1", nil, nil)]) }
    }
}
