import Foundation
import KubeAPI
import Lab
import LabRuntime
import PylonTestSupport
import Testing

/// `pylon speaker` on a virtual LAN (root only; CI runs it), seen from a client host with the tools people use:
/// `arping`, `ndisc6`, the kernel's neighbour table, `tcpdump`. Tests assert who answers, never how fast.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct SpeakerLANTests {
    @Test func exactlyTheElectedNodeAnswersARPAndNDP() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, v6) = try await lan.loadBalancer("web")
            let winner = try #require(try await lan.expectedWinner("web"))
            let mac = lan.macs[winner]!
            #expect(try await lan.soleAnswerer(v4) == mac, "ARP for \(v4): elected \(winner)")
            var ndp: String? = nil
            try await eventually("the client's ndisc6 hears a node") {
                ndp = try lan.ndpAnswer(v6)
                return ndp != nil
            }
            #expect(ndp == mac, "NDP for \(v6): elected \(winner)")
            #expect(try await lan.resolve(v4) == mac, "the client's kernel resolves \(v4) to \(winner)")
            #expect(try await lan.resolve(v6) == mac, "the client's kernel resolves \(v6) to \(winner)")
            try await lan.waitForL2Status("web", node: winner)
            // An address of the pool that no Service holds is never answered.
            #expect(try lan.arpAnswers("192.0.2.119").isEmpty)
        }
    }

    @Test func endpointsDecideWhoAnnouncesAndWhether() async throws {
        try await LoadBalancerLAN.run { lan in
            // externalTrafficPolicy Local: only the node with the endpoint may announce.
            let local = try await lan.loadBalancer("local", local: true, endpointsOn: ["node-3"])
            #expect(try await lan.soleAnswerer(local.v4) == lan.macs["node-3"]!)
            // No serving endpoint anywhere: nobody answers, until one appears.
            let idle = try await lan.loadBalancer("idle", endpointsOn: [])
            #expect(try lan.arpAnswers(idle.v4).isEmpty, "no endpoint, no answer")
            try await lan.setEndpoints("idle", on: ["node-2"])
            let winner = try #require(try await lan.expectedWinner("idle"))
            #expect(try await lan.soleAnswerer(idle.v4) == lan.macs[winner]!)
            // The Local Service's endpoint moves: so does its announcement.
            try await lan.setEndpoints("local", on: ["node-1"])
            try await eventually("node-1 answers for the Local Service") {
                try lan.arpAnswers(local.v4) == [lan.macs["node-1"]!]
            }
        }
    }

    @Test func interfacesAreFollowedAsTheyComeAndGo() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, _) = try await lan.loadBalancer("web")
            let owner = try #require(lan.node(withMAC: try await lan.soleAnswerer(v4)))
            // A second cable from the announcer to the switch: the speaker starts answering on it too.
            let port = "\(owner.prefix(8))-b"
            _ = try lan.lab.execInSwitch([
                "ip", "link", "add", port, "type", "veth", "peer", "name", "eth1", "netns",
                lan.lab.topology.namespace(of: owner),
            ])
            _ = try lan.lab.execInSwitch(["ip", "link", "set", port, "master", "br0", "up"])
            _ = try lan.lab.exec(owner, ["ip", "link", "set", "eth1", "up"])
            let second = try lan.lab.exec(owner, ["cat", "/sys/class/net/eth1/address"]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try await eventually("the announcer answers on eth1 too") {
                try lan.arpAnswers(v4) == [lan.macs[owner]!, second]
            }
            // The cable goes away: back to eth0 alone.
            _ = try lan.lab.exec(owner, ["ip", "link", "delete", "eth1"])
            try await eventually("the announcer answers on eth0 alone") {
                try lan.arpAnswers(v4) == [lan.macs[owner]!]
            }
            // A flap too short for the others to notice: the announcer answers again once the link is back.
            _ = try lan.lab.exec(owner, ["sh", "-c", "ip link set eth0 down && ip link set eth0 up"])
            try await eventually("the announcer answers again after the flap") {
                try lan.arpAnswers(v4) == [lan.macs[owner]!]
            }
        }
    }

    @Test func anAddressLostRightAfterALinkFlapIsNotAnnouncedAnyMore() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, _) = try await lan.loadBalancer("local", local: true, endpointsOn: ["node-1"])
            try await eventually("node-1 answers for the Local Service") {
                try lan.arpAnswers(v4) == [lan.macs["node-1"]!]
            }
            // Within the seconds of repeated announcements, the link flaps (the interface's sockets are reopened)
            // and then the endpoint moves away.
            _ = try lan.lab.exec("node-1", ["sh", "-c", "ip link set eth0 down && ip link set eth0 up"])
            try await eventually("node-1 answers again after the flap") {
                try lan.arpAnswers(v4) == [lan.macs["node-1"]!]
            }
            try await lan.setEndpoints("local", on: ["node-2"])
            try await eventually("node-2 answers") { try lan.arpAnswers(v4) == [lan.macs["node-2"]!] }
            func sent() throws -> [Double] {
                let metrics = try lan.metrics("node-1")
                return [
                    metrics["pylon_speaker_gratuitous_sent_total{protocol=\"arp\"}"] ?? 0,
                    metrics["pylon_speaker_send_failures_total"] ?? 0,
                ]
            }
            let before = try sent()
            // An absence is watched over the whole repeat window (5 s): repeats left from before the flap went on
            // announcing the lost address, and the client's entry flapped back to node-1.
            try await Task.sleep(for: .seconds(5))
            #expect(try sent() == before, "node-1 sent nothing more")
            #expect(try await lan.soleAnswerer(v4) == lan.macs["node-2"]!)
        }
    }

    @Test func aRestartedSpeakerClaimsNothingBeforeItHearsTheOthers() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, _) = try await lan.loadBalancer("web")
            let owner = try #require(lan.node(withMAC: try await lan.soleAnswerer(v4)))
            #expect(try await lan.resolve(v4) == lan.macs[owner]!)
            let other = LoadBalancerLAN.nodes.first { $0 != owner }!
            lan.speakers[other]!.kill()
            _ = try lan.restartSpeaker(other)
            try await eventually("the restarted speaker is ready", timeout: .seconds(30)) {
                try lan.lab.exec(
                    other, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:7473/readyz"]
                )
                .output == "200"
            }
            // Alone at first, it would have elected itself and sent gratuitous ARP, moving the client away.
            #expect(try lan.metrics(other)["pylon_speaker_gratuitous_sent_total{protocol=\"arp\"}"] == 0)
            #expect(try lan.neighbourEntry(v4) == lan.macs[owner]!)
            #expect(try await lan.soleAnswerer(v4) == lan.macs[owner]!)
        }
    }

    @Test func aKilledSpeakersAddressMovesAndTheClientFollows() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, v6) = try await lan.loadBalancer("web")
            let first = try await lan.soleAnswerer(v4)
            let loser = try #require(lan.node(withMAC: first))
            #expect(try await lan.resolve(v4) == first)
            #expect(try await lan.resolve(v6) == first)
            let capture = try BackgroundProcess(
                "/usr/sbin/ip",
                [
                    "netns", "exec", lan.lab.topology.namespace(of: "client"), "tcpdump", "-l", "-n", "-e", "-i",
                    "eth0",
                    "arp or icmp6",
                ])
            defer { capture.kill() }
            try await capture.waitFor("listening on eth0")

            lan.speakers[loser]!.kill()
            let survivors = Set(LoadBalancerLAN.nodes).subtracting([loser])
            let winner = try #require(try await lan.expectedWinner("web", members: survivors))
            let mac = lan.macs[winner]!
            #expect(try await lan.soleAnswerer(v4) == mac, "\(winner) took over from \(loser)")
            // The client's existing entries moved without it asking: gratuitous ARP and unsolicited NA did it.
            try await eventually("the client's neighbour entries point to \(winner)") {
                try lan.neighbourEntry(v4) == mac && lan.neighbourEntry(v6) == mac
            }
            // The new announcer's status replaces the dead node's.
            try await lan.waitForL2Status("web", node: winner)
            #expect(capture.text.contains("\(mac) > ff:ff:ff:ff:ff:ff"), "gratuitous ARP broadcast seen")
            #expect(capture.text.contains("\(mac) > 33:33:00:00:00:01"), "unsolicited NA to all nodes seen")
        }
    }

    @Test func gracefulStopLinkDownAndHealing() async throws {
        try await LoadBalancerLAN.run { lan in
            let (v4, _) = try await lan.loadBalancer("web")
            let first = try #require(lan.node(withMAC: try await lan.soleAnswerer(v4)))

            // SIGTERM: the speaker leaves the membership and stops answering; another node takes over.
            await lan.speakers[first]!.stop()
            let second = try #require(
                try await lan.expectedWinner("web", members: Set(LoadBalancerLAN.nodes).subtracting([first])))
            #expect(try await lan.soleAnswerer(v4) == lan.macs[second]!, "handed over to \(second)")

            // The new announcer's link goes down: the remaining node takes over.
            _ = try lan.lab.exec(second, ["ip", "link", "set", "eth0", "down"])
            let third = try #require(
                try await lan.expectedWinner("web", members: Set(LoadBalancerLAN.nodes).subtracting([first, second])))
            #expect(try await lan.soleAnswerer(v4) == lan.macs[third]!, "link down: \(third) answers")

            // Healing the partition converges to exactly one answerer again: the elected one of the two.
            _ = try lan.lab.exec(second, ["ip", "link", "set", "eth0", "up"])
            let healed = try #require(
                try await lan.expectedWinner("web", members: Set(LoadBalancerLAN.nodes).subtracting([first])))
            var answers = Set<String>()
            do {
                try await eventually("after healing only \(healed) answers", timeout: .seconds(30)) {
                    answers = try lan.arpAnswers(v4)
                    return answers == [lan.macs[healed]!]
                }
            } catch {
                Issue.record("answers after healing: \(answers.map { lan.node(withMAC: $0) ?? $0 })")
                throw error
            }
        }
    }
}
