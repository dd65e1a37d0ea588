import Foundation
import KubeAPI
import Lab
import LabRuntime
import NetCore
import PylonTestSupport
import Testing

/// Crafted frames and forged membership packets from a host on the LAN (scapy): each is dropped and counted under
/// its reason, none is answered, the speaker keeps serving. Part of `SpeakerLANTests` so that labs never run side by
/// side (each lab's management segment uses the same host address).
extension SpeakerLANTests {
    /// scapy frames from the client's eth0; `VIP4`, `VIP6` and `OTHER4` are substituted.
    static let frames = """
        from scapy.all import *
        conf.verb = 0
        me = get_if_hwaddr("eth0")
        vip4, vip6, other4 = "VIP4", "VIP6", "OTHER4"
        group = in6_getnsma(inet_pton(socket.AF_INET6, vip6))
        mcast = in6_getnsmac(group)
        group = inet_ntop(socket.AF_INET6, group)
        ask = ARP(op=1, hwsrc=me, psrc="192.0.2.13", pdst=vip4)
        frames = [
            Ether(dst="ff:ff:ff:ff:ff:ff", src=me, type=0x0806) / Raw(bytes(ask)[:12]),          # truncated
            Ether(dst="ff:ff:ff:ff:ff:ff", src=me) / ARP(op=1, hwlen=8, hwsrc=me, psrc="192.0.2.13", pdst=vip4),
            Ether(dst="ff:ff:ff:ff:ff:ff", src=me) / ARP(op=1, hwsrc=me, psrc="192.0.2.13", pdst=other4),
            Ether(dst="ff:ff:ff:ff:ff:ff", src=me) / ARP(op=1, hwsrc=me, psrc=vip4, pdst=vip4),  # claims the VIP
            Ether(dst=mcast, src=me) / IPv6(src="2001:db8::d", dst=group)
                / ICMPv6ND_NS(tgt=vip6, cksum=0x1234) / ICMPv6NDOptSrcLLAddr(lladdr=me),
            Ether(dst=mcast, src=me) / IPv6(src="2001:db8::d", dst=group, hlim=64)
                / ICMPv6ND_NS(tgt=vip6) / ICMPv6NDOptSrcLLAddr(lladdr=me),
            Ether(dst=mcast, src=me) / IPv6(src="2001:db8::d", dst=group)
                / ICMPv6ND_NS(tgt=vip6) / Raw(b"\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00"),   # option length 0
        ]
        for f in frames:
            sendp(f, iface="eth0")
        print("sent", len(frames))
        """

    @Test func craftedFramesAndForgedMembershipAreDroppedAndCounted() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, v6) = try await lan.loadBalancer("web")
            let announcer = try #require(lan.node(withMAC: try await lan.soleAnswerer(v4)))
            let before = try lan.metrics(announcer)
            let replies = before["pylon_speaker_responses_sent_total{protocol=\"arp\"}"]

            let script = Self.frames.replacingOccurrences(of: "VIP4", with: v4)
                .replacingOccurrences(of: "VIP6", with: v6).replacingOccurrences(of: "OTHER4", with: "192.0.2.118")
            let sent = try lan.lab.exec("client", ["/usr/bin/python3", "-c", script])
            #expect(sent.output.contains("sent 7"), "scapy: \(sent.output)")
            // A bad IPv6 length never crosses the lab's bridge (its multicast snooping parses IPv6 headers): it is
            // put straight onto the announcer's cable from the switch side.
            let cable = try lan.lab.execInSwitch([
                "/usr/bin/python3", "-c",
                "from scapy.all import *; sendp(Ether(dst='\(lan.macs[announcer]!)', src='02:00:00:00:00:0d')"
                    + " / IPv6(src='2001:db8::d', dst='\(v6)', plen=200) / ICMPv6ND_NS(tgt='\(v6)'),"
                    + " iface='\(announcer)', verbose=0); print('sent')",
            ])
            #expect(cable.output.contains("sent"), "scapy: \(cable.output)")

            // Membership: garbage, a packet under another key, and a real packet replayed from the client.
            let address = lan.lab.topology.addresses(of: announcer).v4.description
            let captured = try lan.lab.exec(
                announcer,
                [
                    "/usr/bin/python3", "-c",
                    "from scapy.all import *; p = sniff(iface='eth0', filter='udp dst port 7946 and dst host \(address)',"
                        + " count=1, timeout=10);"
                        + " print(bytes(p[0][UDP].payload).hex() if p else '')",
                ]
            ).output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!captured.isEmpty, "a membership packet was captured")
            let forge = """
                import socket, hmac, hashlib
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"garbage that is not a membership packet at all", ("\(address)", 7946))
                body = b"PYLM\\x01" + b"\\x06node-9" + bytes(8) + b"\\x01" + bytes(5)
                s.sendto(body + hmac.new(b"wrong key", body, hashlib.sha256).digest(), ("\(address)", 7946))
                s.sendto(bytes.fromhex("\(captured)"), ("\(address)", 7946))
                """
            _ = try lan.lab.exec("client", ["/usr/bin/python3", "-c", forge])

            var after: [String: Double] = [:]
            let expected = [
                "pylon_speaker_drops_total{reason=\"truncated\"}",
                "pylon_speaker_drops_total{reason=\"arp_not_ethernet_ipv4\"}",
                "pylon_speaker_drops_total{reason=\"not_announced\"}",
                "pylon_speaker_drops_total{reason=\"conflict\"}",
                "pylon_speaker_drops_total{reason=\"bad_checksum\"}",
                "pylon_speaker_drops_total{reason=\"ndp_bad_hop_limit\"}",
                "pylon_speaker_drops_total{reason=\"ipv6_bad_payload_length\"}",
                "pylon_speaker_drops_total{reason=\"ndp_bad_option\"}",
                "pylon_speaker_membership_drops_total{reason=\"bad_magic\"}",
                "pylon_speaker_membership_drops_total{reason=\"bad_mac\"}",
                "pylon_speaker_membership_drops_total{reason=\"replayed\"}",
            ]
            do {
                try await eventually("every crafted packet counted") {
                    after = try lan.metrics(announcer)
                    return expected.allSatisfy { (after[$0] ?? 0) > (before[$0] ?? 0) }
                }
            } catch {
                Issue.record(
                    "not counted: \(expected.filter { (after[$0] ?? 0) <= (before[$0] ?? 0) })")
                throw error
            }
            #expect(
                after["pylon_speaker_responses_sent_total{protocol=\"arp\"}"] == replies, "no crafted frame answered")
            #expect(
                after["pylon_speaker_responses_sent_total{protocol=\"ndp\"}"]
                    == before["pylon_speaker_responses_sent_total{protocol=\"ndp\"}"])
            // Still serving, still the only answerer.
            #expect(lan.speakers[announcer]!.isRunning)
            #expect(try await lan.soleAnswerer(v4) == lan.macs[announcer]!)
            #expect(try lan.arpAnswers("192.0.2.118").isEmpty)
        }
    }
}
