import Glibc
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

/// The parser against the C library's `inet_pton` on the same inputs: mutated valid addresses and random strings
/// over the characters addresses are made of (seeded, so a failure reproduces).
@Suite struct IPAddressParserAgainstInetPton {
    /// SplitMix64.
    private struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static func reference(_ text: String) -> IPAddress? {
        if text.contains(where: { $0 == ":" }) {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            let value = withUnsafeBytes(of: &address) { $0.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
            return .v6(value)
        }
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return .v4(UInt32(bigEndian: address.s_addr))
    }

    @Test func agreesWithInetPton() {
        var random = Seeded(state: 20_261_126)
        let alphabet = Array("0123456789abcdefABCDEF:.")
        var inputs: [String] = []
        for _ in 0..<4000 {
            // A valid address: IPv4, or IPv6 with runs of zero groups, written compressed or in full.
            let text: String
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                text = IPAddress.v4(UInt32.random(in: 0...UInt32.max, using: &random)).description
            case 1:
                var value: UInt128 = 0
                for _ in 0..<8 {
                    let group = UInt128(UInt16.random(in: 0...UInt16.max, using: &random))
                    value = value << 16 | (Bool.random(using: &random) ? 0 : group)
                }
                text = IPAddress.v6(value).description
            default:
                let groups = (0..<8).map { _ in String(UInt16.random(in: 0...UInt16.max, using: &random), radix: 16) }
                text = groups.joined(separator: ":")
            }
            inputs.append(text)
            // The same with one character replaced, inserted or removed.
            var mutated = Array(text)
            let position = Int.random(in: 0..<mutated.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: mutated[position] = alphabet.randomElement(using: &random)!
            case 1: mutated.insert(alphabet.randomElement(using: &random)!, at: position)
            default: mutated.remove(at: position)
            }
            inputs.append(String(mutated))
        }
        for _ in 0..<4000 {
            let length = Int.random(in: 0...24, using: &random)
            inputs.append(String((0..<length).map { _ in alphabet.randomElement(using: &random)! }))
        }
        inputs += [
            "::ffff:192.0.2.1", "::192.0.2.1", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::",
            "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.04", "1.2.3.4::", "12345::", "::1:", ":::",
        ]
        var accepted = 0
        for input in inputs {
            let ours = IPAddress(input)
            #expect(ours == Self.reference(input), "\(input)")
            if ours != nil { accepted += 1 }
        }
        #expect(accepted > 4000, "the inputs include thousands of valid addresses")
    }
}
