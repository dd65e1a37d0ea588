import NetCore
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"), ("2001:db8::1", "2001:db8::1"), ("2001:0db8:0:0:0:0:0:1", "2001:db8::1"),
        ("::", "::"), ("::1", "::1"), ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
    ])
    func roundTrip(input: String, formatted: String) throws {
        let ip = try #require(IPAddress(input))
        #expect(ip.description == formatted)
    }

    @Test(arguments: [
        "", "1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4.5", "2001:db8:::1", "2001:db8::1::2", "g::1", ":1:2",
        "1:2:3:4:5:6:7:8:9",
    ])
    func rejects(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func networks() throws {
        let net = try #require(IPNetwork("10.43.7.9/16"))
        #expect(net.description == "10.43.0.0/16")
        #expect(net.size == 65536)
        #expect(net.contains(IPAddress("10.43.255.255")!))
        #expect(!net.contains(IPAddress("10.44.0.0")!))
        #expect(net.address(at: 1)?.description == "10.43.0.1")
        let v6 = try #require(IPNetwork("2001:db8::/64"))
        #expect(v6.contains(IPAddress("2001:db8::ffff")!))
        #expect(!v6.contains(IPAddress("192.0.2.1")!))
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("10.0.0.0") == nil)
    }
}
