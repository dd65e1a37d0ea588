import BGP
import Foundation
import Lab
import LabRuntime
import Logging
import NetCore
import PylonTestSupport
import ServiceLifecycle
import Speaker

extension Bench {
    /// BGP benchmarks (root only): N routes announced to BIRD by Pylon's BGP session and, in the same run and into
    /// the same BIRD, by gobgpd — time until BIRD holds all of them, and until a full withdrawal is gone.
    ///
    /// A lab with two hosts on the management link: `router` (BIRD, 198.18.0.10) and `gobgp` (gobgpd,
    /// 198.18.0.11); Pylon's session runs in this process from 198.18.0.1. All three are in AS 64512 (iBGP keeps the
    /// next hop as given). The routes are IPv6 /128s from 2001:db8:b::/64 — 10,000 IPv4 /32s do not fit the IPv4
    /// documentation ranges — with next hop 2001:db8::99 on BIRD's own LAN. They stay in BIRD's table (no kernel
    /// protocol).
    static func bgpBenchmarks(routes count: Int) async throws -> [(String, String, String)] {
        guard getuid() == 0 else { return [("BGP", "skipped", "needs root for network namespaces")] }
        for tool in ["/usr/sbin/bird", "/usr/bin/gobgpd"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw BenchError("\(tool) is missing (apt-get install bird2 gobgpd)")
        }
        return try await withLab("pylg", hosts: ["router", "gobgp"]) { lab, directory in
            let router = lab.topology.managementAddress(of: "router").description
            let gobgp = lab.topology.managementAddress(of: "gobgp").description
            let host = LabTopology.managementHost.description

            try """
            timeformat protocol iso long ms;
            router id \(router);
            protocol device { scan time 1; }
            protocol bgp pylon {
              local \(router) as 64512; neighbor \(host) as 64512; passive on; direct; hold time 90;
              ipv6 { import all; export none; };
            }
            protocol bgp gobgp {
              local \(router) as 64512; neighbor \(gobgp) as 64512; direct; hold time 90; disabled;
              ipv6 { import all; export none; };
            }
            """.write(toFile: directory + "/bird.conf", atomically: false, encoding: .utf8)
            try """
            [global.config]
              as = 64512
              router-id = "\(gobgp)"
            [[neighbors]]
              [neighbors.config]
                neighbor-address = "\(router)"
                peer-as = 64512
              [neighbors.transport.config]
                passive-mode = true
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "ipv6-unicast"
            """.write(toFile: directory + "/gobgpd.toml", atomically: false, encoding: .utf8)
            let birdSocket = directory + "/bird.ctl"
            let bird = try BackgroundProcess(
                "/usr/sbin/ip",
                [
                    "netns", "exec", lab.topology.namespace(of: "router"), "/usr/sbin/bird", "-f", "-c",
                    directory + "/bird.conf", "-s", birdSocket,
                ])
            defer { bird.kill() }
            let gobgpd = try BackgroundProcess(
                "/usr/sbin/ip",
                [
                    "netns", "exec", lab.topology.namespace(of: "gobgp"), "/usr/bin/gobgpd", "-f",
                    directory + "/gobgpd.toml", "-t", "toml", "--api-hosts", "127.0.0.1:50051",
                ])
            defer { gobgpd.kill() }

            func birdc(_ arguments: [String]) throws -> String {
                try lab.exec("router", ["birdc", "-s", birdSocket] + arguments).output
            }
            /// Routes BIRD holds from `protocolName` ("N of M routes for K networks…").
            func held(_ protocolName: String) throws -> Int {
                try birdRoutes(lab, "router", socket: birdSocket, protocol: protocolName)
            }
            /// When BIRD says the session became Established (its own timestamp, in ms): polls until it is (bounded).
            func established(_ protocolName: String) async throws -> Date {
                let formatter = DateFormatter()
                formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
                formatter.timeZone = .current
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline {
                    let line = try birdc(["show", "protocols", protocolName]).split(separator: "\n").first {
                        $0.hasPrefix(protocolName + " ") && $0.contains("Established")
                    }
                    if let line, let stamp = line.firstMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/),
                        let date = formatter.date(from: String(stamp.output))
                    {
                        return date
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
                throw BenchError("BIRD's session \(protocolName) did not come up within 60 s")
            }
            /// Polls every 2 ms until `held(protocolName)` is `wanted` (bounded), returning the time since `start`.
            func until(_ protocolName: String, holds wanted: Int, since start: Date) async throws -> Duration {
                let deadline = ContinuousClock.now + .seconds(300)
                while ContinuousClock.now < deadline {
                    if try held(protocolName) == wanted { return .milliseconds(Date().timeIntervalSince(start) * 1000) }
                    try await Task.sleep(for: .milliseconds(2))
                }
                throw BenchError("BIRD did not reach \(wanted) routes from \(protocolName) within 300 s")
            }
            try await eventually("BIRD answers", timeout: .seconds(20)) { (try? birdc(["show", "status"])) != nil }

            let nextHop = IPAddress("2001:db8::99")!
            let prefixes = (1...count).map {
                IPNetwork(address: IPAddress("2001:db8:b::\(String($0, radix: 16))")!, prefixLength: 128)!
            }
            var rows: [(String, String, String)] = []

            // Pylon: the routes are given before the session starts; from BIRD seeing the session Established until it
            // holds them all.
            var logger = Logger(label: "bench.bgp")
            logger.logLevel = .warning
            let peer = BGPPeer(
                configuration: .init(
                    localASN: 64_512, peerASN: 64_512, routerID: 0xC612_0001, holdTime: 90, families: [.ipv6Unicast]),
                endpoint: .init(address: router, sourceAddress: host), logger: logger)
            peer.advertise(prefixes.map { Route(prefix: $0, nextHop: nextHop) })
            let group = ServiceGroup(configuration: .init(services: [.init(service: peer)], logger: logger))
            let running = Task { try await group.run() }
            let pylonStart = try await established("pylon")
            let pylonLoad = try await until("pylon", holds: count, since: pylonStart)
            let pylonWithdrawStart = Date()
            peer.advertise([])
            let pylonWithdraw = try await until("pylon", holds: 0, since: pylonWithdrawStart)
            await group.triggerGracefulShutdown()
            _ = try? await running.value

            // gobgpd: the routes are loaded into its table first (one CLI call each, not measured); then BIRD's session
            // to it is enabled; measured the same way.
            let list = directory + "/prefixes"
            try prefixes.map { "\($0)\n" }.joined().write(toFile: list, atomically: false, encoding: .utf8)
            try await eventually("gobgpd answers", timeout: .seconds(20)) {
                (try? lab.exec("gobgp", ["gobgp", "global"]).status) == 0
            }
            let load = try lab.exec(
                "gobgp",
                [
                    "sh", "-c",
                    "while read p; do gobgp global rib add -a ipv6 \"$p\" nexthop \(nextHop) || exit 1; done < \(list)",
                ])
            guard load.status == 0 else { throw BenchError("loading gobgpd failed: \(load.output.suffix(300))") }
            let summary = try lab.exec("gobgp", ["gobgp", "global", "rib", "-a", "ipv6", "summary"]).output
            guard summary.contains("Destination: \(count),") else { throw BenchError("gobgpd holds: \(summary)") }
            _ = try birdc(["enable", "gobgp"])
            let gobgpStart = try await established("gobgp")
            let gobgpLoad = try await until("gobgp", holds: count, since: gobgpStart)
            let gobgpWithdrawStart = Date()
            let deleted = try lab.exec("gobgp", ["gobgp", "global", "rib", "-a", "ipv6", "del", "all"])
            guard deleted.status == 0 else { throw BenchError("gobgp del all failed: \(deleted.output)") }
            let gobgpWithdraw = try await until("gobgp", holds: 0, since: gobgpWithdrawStart)

            rows.append(
                (
                    "BGP: \(count) routes announced to BIRD", "pylon \(ms(pylonLoad))",
                    String(
                        format:
                            "gobgpd %@ (ratio pylon/gobgpd %.2f; goal ≤ 1); from BIRD's session Established until it holds all",
                        ms(gobgpLoad), seconds(pylonLoad) / seconds(gobgpLoad))
                ))
            rows.append(
                (
                    "BGP: \(count) routes withdrawn", "pylon \(ms(pylonWithdraw))",
                    String(
                        format: "gobgpd %@ (ratio %.2f); until BIRD holds none", ms(gobgpWithdraw),
                        seconds(pylonWithdraw) / seconds(gobgpWithdraw))
                ))
            return rows
        }
    }
}
