import BGP
import Foundation
import Lab
import Logging
import NetCore
import PylonTestSupport
import ServiceLifecycle
import Speaker
import Testing

/// Pylon's BGP session against a real BIRD 2 (root; CI installs bird2 and runs it): BIRD in a namespace of its own,
/// peering over the lab's management link with the session in this process.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct BGPPeerInteropTests {
    static let family = "pylb"

    static func prefix(_ text: String) -> IPNetwork {
        let parts = text.split(separator: "/")
        return IPNetwork(address: IPAddress(parts[0])!, prefixLength: Int(parts[1])!)!
    }

    /// BIRD's view of what the speaker sent (`birdc show route protocol speaker all`).
    static func birdRoutes(_ lab: LabNetwork, _ socket: String) throws -> String {
        try lab.exec("router", ["birdc", "-s", socket, "show", "route", "protocol", "speaker", "all"]).output
    }

    @Test func birdLearnsAndForgetsOurRoutesWithTheirAttributes() async throws {
        try await ManagementSegment.exclusively {
            LabNetwork.sweep(prefixFamily: Self.family, olderThan: 3600)
            let prefix = "\(Self.family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
            let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: ["router"], management: true))
            defer { lab.down() }
            try lab.up()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-test-\(prefix)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let router = lab.topology.managementAddress(of: "router").description
            let socket = directory + "/bird.ctl"
            try """
            log stderr all;
            router id \(router);
            protocol device { scan time 1; }
            protocol bgp speaker {
              local \(router) as 64500;
              neighbor \(LabTopology.managementHost) as 64512;
              passive on;
              hold time 9;
              ipv4 { import all; export none; };
            }
            """.write(toFile: directory + "/bird.conf", atomically: true, encoding: .utf8)
            let bird = try BackgroundProcess(
                "/usr/sbin/ip",
                [
                    "netns", "exec", lab.topology.namespace(of: "router"), "bird", "-f", "-c", directory + "/bird.conf",
                    "-s", socket,
                ])
            defer { bird.kill() }

            var logger = Logger(label: "test.bgp")
            logger.logLevel = .debug
            let peer = BGPPeer(
                configuration: .init(
                    localASN: 64_512, peerASN: 64_500, routerID: 0xC612_0001, holdTime: 9, families: [.ipv4Unicast],
                    retryInitial: .milliseconds(200), retryMaximum: .seconds(2)),
                endpoint: .init(address: router, sourceAddress: LabTopology.managementHost.description),
                logger: logger)
            let group = ServiceGroup(configuration: .init(services: [.init(service: peer)], logger: logger))
            let running = Task { try await group.run() }
            do {
                try await eventually("the session is established on both sides", timeout: .seconds(30)) {
                    let protocols = try lab.exec("router", ["birdc", "-s", socket, "show", "protocols", "speaker"])
                        .output
                    return peer.status.state == .established && protocols.contains("Established")
                }
                let nextHop = IPAddress(LabTopology.managementHost.description)!
                peer.advertise([
                    Route(
                        prefix: Self.prefix("192.0.2.100/32"), nextHop: nextHop, communities: [64_512 << 16 | 100],
                        largeCommunities: [.init(4_200_000_001, 1, 2)]),
                    Route(prefix: Self.prefix("192.0.2.101/32"), nextHop: nextHop),
                    Route(prefix: Self.prefix("198.51.100.0/24"), nextHop: nextHop),
                ])
                var routes = ""
                try await eventually("BIRD holds the three routes", timeout: .seconds(20)) {
                    routes = try Self.birdRoutes(lab, socket)
                    return ["192.0.2.100/32", "192.0.2.101/32", "198.51.100.0/24"].allSatisfy { routes.contains($0) }
                }
                #expect(routes.contains("BGP.next_hop: \(nextHop)"), "\(routes)")
                #expect(routes.contains("BGP.as_path: 64512"), "\(routes)")
                #expect(routes.contains("BGP.community: (64512,100)"), "\(routes)")
                #expect(routes.contains("BGP.large_community: (4200000001, 1, 2)"), "\(routes)")

                peer.advertise([Route(prefix: Self.prefix("192.0.2.101/32"), nextHop: nextHop)])
                try await eventually("BIRD drops the withdrawn routes", timeout: .seconds(20)) {
                    routes = try Self.birdRoutes(lab, socket)
                    return routes.contains("192.0.2.101/32") && !routes.contains("192.0.2.100/32")
                        && !routes.contains("198.51.100.0/24")
                }
                #expect(peer.status.updatesSent >= 2 && peer.status.prefixesAdvertised == 1)
            } catch {
                print("---- bird\n\(bird.text.suffix(3000))")
                await group.triggerGracefulShutdown()
                _ = try? await running.value
                throw error
            }
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            // A graceful stop tells BIRD why, and BIRD forgets the routes at once.
            try await eventually("BIRD saw an administrative shutdown", timeout: .seconds(10)) {
                let protocols = try lab.exec("router", ["birdc", "-s", socket, "show", "protocols", "all", "speaker"])
                    .output
                let remaining = try Self.birdRoutes(lab, socket)
                return protocols.contains("Administrative shutdown") && !remaining.contains("192.0.2.101")
            }
        }
    }
}
