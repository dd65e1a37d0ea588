import BFD
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
    /// BFD benchmark (root only): how fast a dead path ends a BGP session with BFD at MetalLB's default timers
    /// (300 ms × 3, detection time 900 ms), side by side with BIRD as the announcing speaker in the same run.
    ///
    /// A lab with two hosts on the management link: `router` (BIRD, AS 64500, 198.18.0.10) and `bird` (a second
    /// BIRD as the reference speaker, AS 64512, 198.18.0.11); Pylon's BGP session and BFD agent run in this process
    /// from 198.18.0.1 (AS 64512). Each speaker announces one /32 from 203.0.113.0/24. A trial takes one speaker's
    /// port off the switch (its link stays up: only silence tells) and measures, from just before the `ip` command,
    /// until the router no longer holds that speaker's route (the router's BFD noticed the silence: this depends on
    /// the speaker advertising and keeping its rate); for Pylon also until its own BGP session ended because its BFD
    /// noticed the router's silence. Then the port goes back and the next trial waits for the route to return.
    static func bfdBenchmarks(trials: Int) async throws -> [(String, String, String)] {
        guard getuid() == 0 else { return [("BFD", "skipped", "needs root for network namespaces")] }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/bird") else {
            throw BenchError("/usr/sbin/bird is missing (apt-get install bird2)")
        }
        return try await withLab("pylf", hosts: ["router", "bird"]) { lab, directory in
            let router = lab.topology.managementAddress(of: "router")
            let speaker = lab.topology.managementAddress(of: "bird")
            let host = IPAddress(LabTopology.managementHost.description)!

            let bfd =
                "protocol bfd { interface \"*\" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; }; }"
            try """
            router id \(router);
            protocol device { scan time 1; }
            \(bfd)
            protocol bgp pylon {
              local \(router) as 64500; neighbor \(host) as 64512; passive on; direct; hold time 90; bfd on;
              error wait time 1, 2; ipv4 { import all; export none; };
            }
            protocol bgp reference {
              local \(router) as 64500; neighbor \(speaker) as 64512; passive on; direct; hold time 90; bfd on;
              error wait time 1, 2; ipv4 { import all; export none; };
            }
            """.write(toFile: directory + "/router.conf", atomically: false, encoding: .utf8)
            try """
            router id \(speaker);
            protocol device { scan time 1; }
            \(bfd)
            protocol static { ipv4; route 203.0.113.1/32 blackhole; }
            protocol bgp upstream {
              local \(speaker) as 64512; neighbor \(router) as 64500; direct; hold time 90; bfd on;
              error wait time 1, 2; connect retry time 1; ipv4 { import none; export all; };
            }
            """.write(toFile: directory + "/speaker.conf", atomically: false, encoding: .utf8)
            var processes: [BackgroundProcess] = []
            defer { for process in processes { process.kill() } }
            for (name, host) in [("router", "router"), ("speaker", "bird")] {
                processes.append(
                    try BackgroundProcess(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", lab.topology.namespace(of: host), "/usr/sbin/bird", "-f", "-c",
                            "\(directory)/\(name).conf", "-s", "\(directory)/\(name).ctl",
                        ]))
            }
            /// Routes the router holds from `protocolName`.
            func held(_ protocolName: String) throws -> Int {
                try birdRoutes(lab, "router", socket: directory + "/router.ctl", protocol: protocolName)
            }

            var logger = Logger(label: "bench.bfd")
            logger.logLevel = .warning
            let peer = BGPPeer(
                configuration: .init(
                    localASN: 64_512, peerASN: 64_500, routerID: 0xC612_0001, holdTime: 90, families: [.ipv4Unicast],
                    retryInitial: .milliseconds(200), retryMaximum: .seconds(1)),
                endpoint: .init(address: router.description, sourceAddress: host.description), logger: logger)
            peer.advertise([Route(prefix: IPNetwork("203.0.113.2/32")!, nextHop: host)])
            let agent = BFDAgent(listenAddresses: [host], logger: logger)
            agent.watch(router, from: host, parameters: .init()) { change in
                if change.isFailure { peer.bfdDown("session down (\(change.diagnostic))") }
            }
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: peer), .init(service: agent)], logger: logger))
            let running = Task { try await group.run() }
            defer { running.cancel() }

            func ready(_ protocolName: String) async throws {
                do {
                    try await eventually("\(protocolName)'s route at the router with BFD up", timeout: .seconds(60)) {
                        try held(protocolName) == 1
                            && (protocolName != "pylon"
                                || agent.state(of: router) == .up
                                    && peer.status.state == .established)
                    }
                } catch {
                    // (What the router says is context: a failure to ask it must not hide the error itself.)
                    let routerSays =
                        (try? lab.exec(
                            "router",
                            ["birdc", "-s", directory + "/router.ctl", "show", "protocols", "all", protocolName]
                        ))?.output ?? "(birdc failed)"
                    throw BenchError(
                        "\(error); Pylon: \(peer.status), BFD \(String(describing: agent.state(of: router))); "
                            + "router: \(routerSays) \(processes.map(\.text).joined(separator: "\n"))")
                }
            }
            var routerSide: [String: [Duration]] = ["pylon": [], "reference": []]
            var pylonSide: [Duration] = []
            for _ in 0..<trials {
                for (protocolName, port) in [("pylon", "uplink"), ("reference", "m-bird")] {
                    try await ready(protocolName)
                    let link = ["-n", lab.topology.switchNamespace, "link", "set", port]
                    let start = ContinuousClock.now
                    _ = try await ChildProcess.run("/usr/sbin/ip", link + ["nomaster"], standardError: .discarded)
                    var routerDone: Duration?
                    var ownDone: Duration?
                    var ownReason: String?
                    let deadline = start + .seconds(10)
                    while ContinuousClock.now < deadline, routerDone == nil || protocolName == "pylon" && ownDone == nil
                    {
                        if ownDone == nil, peer.status.state != .established {
                            ownDone = ContinuousClock.now - start
                            ownReason = peer.status.lastError
                        }
                        if routerDone == nil, try held(protocolName) == 0 { routerDone = ContinuousClock.now - start }
                        try await Task.sleep(for: .milliseconds(1))
                    }
                    _ = try await ChildProcess.run("/usr/sbin/ip", link + ["master", "br1"], standardError: .discarded)
                    guard let routerDone else { throw BenchError("the router kept \(protocolName)'s route for 10 s") }
                    routerSide[protocolName, default: []].append(routerDone)
                    if protocolName == "pylon" {
                        guard let ownDone, ownReason?.hasPrefix("BFD:") == true else {
                            throw BenchError("Pylon's session did not end by BFD: \(ownReason ?? "it did not end")")
                        }
                        pylonSide.append(ownDone)
                    }
                }
            }
            await group.triggerGracefulShutdown()
            _ = try? await running.value

            func summary(_ values: [Duration]) -> String {
                "p50 \(ms(percentile(values, 0.5))), p99 \(ms(percentile(values, 0.99))), max \(ms(values.max() ?? .zero))"
            }
            return [
                (
                    "BFD: path to Pylon's speaker dies → router drops its route (\(trials) trials)",
                    "p50 \(ms(percentile(routerSide["pylon"]!, 0.5)))",
                    "\(summary(routerSide["pylon"]!)); BIRD as the speaker: \(summary(routerSide["reference"]!)); "
                        + "configured 300 ms × 3 = 900 ms; goal < 1000 ms"
                ),
                (
                    "BFD: path to the router dies → Pylon's BGP session ends (\(trials) trials)",
                    "p50 \(ms(percentile(pylonSide, 0.5)))", "\(summary(pylonSide)); configured 900 ms"
                ),
            ]
        }
    }
}
