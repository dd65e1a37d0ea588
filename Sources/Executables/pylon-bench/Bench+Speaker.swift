import Foundation
import KubeAPI
import KubeClient
import Lab
import LabRuntime
import NetCore
import PylonTestSupport

extension Bench {
    /// How a trial takes the announcing node out.
    enum Failure: String, CaseIterable {
        case kill = "SIGKILL of the speaker"
        case linkDown = "node link down"
        case graceful = "SIGTERM (graceful)"
    }

    /// Speaker benchmarks on the virtual LAN (root only): failover gaps seen by a client's ARP probe stream, ARP
    /// reply latency of the speaker against the kernel on the same node, speaker RSS idle and with 1,000 addresses.
    static func speakerBenchmarks(_ binary: String, trials: Int) async throws -> [(String, String, String)] {
        guard getuid() == 0 else { return [("pylon speaker", "skipped", "needs root for network namespaces")] }
        let probe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var rows: [(String, String, String)] = []
        try await LoadBalancerLAN.run(binary: binary) { lan in
            let (v4, _) = try await lan.loadBalancer("web")
            let owner = try await lan.node(withMAC: lan.soleAnswerer(v4))!
            var speakers = lan.speakers
            let client = lan.lab.topology.namespace(of: "client")
            let sender = lan.lab.topology.addresses(of: "client").v4.description
            func pid(_ node: String) -> Int32 { speakers[node]!.processIdentifier }

            let idle = await settledResidentKilobytes(pid(owner))
            let idleAnonymous = await settledResidentKilobytes(pid(owner), field: "RssAnon")

            // ARP reply latency: the speaker (VIP) against the kernel (the node's own address), interleaved.
            let nodeIP = lan.lab.topology.addresses(of: owner).v4.description
            let rtt = try BackgroundProcess(
                "/usr/sbin/ip",
                ["netns", "exec", client, probe, "--arp-probe", "rtt", "eth0", sender, "1000", v4, nodeIP])
            try await rtt.waitFor("done", timeout: .seconds(120))
            var samples: [String: [Duration]] = [:]
            for line in rtt.text.split(separator: "\n") where line.hasPrefix("rtt ") {
                let parts = line.split(separator: " ")
                samples[String(parts[1]), default: []].append(.microseconds(Int64(parts[2]) ?? 0))
            }
            let speaker = samples[v4] ?? []
            let kernel = samples[nodeIP] ?? []
            let lost = rtt.text.components(separatedBy: "lost ").count - 1
            rows.append(
                (
                    "pylon speaker: ARP reply latency, speaker vs kernel (1000 each)",
                    "p50 \(us(percentile(speaker, 0.5))) vs \(us(percentile(kernel, 0.5)))",
                    String(
                        format: "ratio p50 %.2f, p99 %.2f (%@ vs %@); %d lost; goal ≤ 1.5",
                        ratio(percentile(speaker, 0.5), percentile(kernel, 0.5)),
                        ratio(percentile(speaker, 0.99), percentile(kernel, 0.99)),
                        us(percentile(speaker, 0.99)), us(percentile(kernel, 0.99)), lost)
                ))

            // Failover: the largest gap between consecutive replies in a 5 ms probe stream.
            for failure in Failure.allCases {
                var gaps: [Duration] = []
                var failed = 0
                for _ in 0..<trials {
                    _ = try await lan.soleAnswerer(v4, timeout: .seconds(30))
                    try await eventually("every speaker sees all three", timeout: .seconds(30)) {
                        try LoadBalancerLAN.nodes.allSatisfy { try lan.metrics($0)["pylon_speaker_members_alive"] == 3 }
                    }
                    let stream = try BackgroundProcess(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", client, probe, "--arp-probe", "stream", "eth0", sender, v4, "5", "5000",
                            "20",
                        ])
                    try await eventually("the probe stream runs", timeout: .seconds(10)) {
                        stream.text.components(separatedBy: "reply ").count > 20
                    }
                    switch failure {
                    case .kill: speakers[owner]!.kill()
                    case .linkDown: _ = try lan.lab.exec(owner, ["ip", "link", "set", "eth0", "down"])
                    case .graceful: await speakers[owner]!.stop()
                    }
                    try await stream.waitFor("done", timeout: .seconds(10))
                    let replies = stream.text.split(separator: "\n").filter { $0.hasPrefix("reply ") }.map {
                        let parts = $0.split(separator: " ")
                        return (at: Int64(parts[1]) ?? 0, mac: String(parts[2]))
                    }
                    if let last = replies.last, last.mac != lan.macs[owner] {
                        let gap = zip(replies, replies.dropFirst()).map { $1.at - $0.at }.max() ?? 0
                        gaps.append(.microseconds(gap))
                    } else {
                        failed += 1
                    }
                    switch failure {
                    case .kill, .graceful: speakers[owner] = try lan.restartSpeaker(owner, binary: binary)
                    case .linkDown: _ = try lan.lab.exec(owner, ["ip", "link", "set", "eth0", "up"])
                    }
                    try await eventually("\(owner) announces again", timeout: .seconds(30)) {
                        try lan.arpAnswers(v4) == [lan.macs[owner]!]
                    }
                }
                let goal = failure == .graceful ? "goal < 100 ms" : "goal p99 < 1000 ms"
                rows.append(
                    (
                        "pylon speaker: failover, \(failure.rawValue) (\(trials) trials)",
                        "p50 \(ms(percentile(gaps, 0.5)))",
                        "p99 \(ms(percentile(gaps, 0.99))), max \(ms(gaps.max() ?? .zero)); \(failed) without takeover; \(goal)"
                    ))
            }

            // 1,000 more addresses (IPv6, a pool of its own) with an endpoint on every node.
            _ = try await lan.client.create(
                .ipAddressPools, namespace: "pylon-system",
                [
                    "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": ["name": "bulk"],
                    "spec": ["addresses": ["2001:db8::1:0/112"]],
                ])
            try await forEachConcurrently(1000, concurrency: 8) { i in
                _ = try await lan.client.create(
                    .services, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string("bulk-\(i)")],
                        "spec": [
                            "type": "LoadBalancer", "ipFamilies": ["IPv6"], "allocateLoadBalancerNodePorts": false,
                            "ports": [["port": 80]],
                        ],
                    ])
                try await lan.setEndpoints("bulk-\(i)", on: LoadBalancerLAN.nodes)
            }
            try await eventually("1002 addresses announced", timeout: .seconds(120)) {
                try LoadBalancerLAN.nodes.map { try lan.metrics($0)["pylon_speaker_announced_ips"] ?? 0 }.reduce(0, +)
                    >= 1002
            }
            var loaded = (node: "", rss: 0)
            for node in LoadBalancerLAN.nodes {
                let rss = await settledResidentKilobytes(pid(node))
                if rss > loaded.rss { loaded = (node, rss) }
            }
            let loadedAnonymous = await settledResidentKilobytes(pid(loaded.node), field: "RssAnon")
            rows.append(
                (
                    "pylon speaker: RSS idle / with 1000 addresses", "\(idle / 1024) MB / \(loaded.rss / 1024) MB",
                    "anonymous \(idleAnonymous / 1024) MB / \(loadedAnonymous / 1024) MB (the rest is the binary and shared libraries); goal < 25 MB"
                ))
        }
        return rows
    }

    static func us(_ d: Duration) -> String {
        String(format: "%.0f µs", seconds(d) * 1_000_000)
    }

    static func ratio(_ a: Duration, _ b: Duration) -> Double {
        seconds(b) > 0 ? seconds(a) / seconds(b) : 0
    }
}
