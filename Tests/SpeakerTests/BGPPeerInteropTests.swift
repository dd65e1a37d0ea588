import BFD
import BGP
import Foundation
import Lab
import LabRuntime
import Logging
import NIOCore
import NIOPosix
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

    /// A lab with one host, `router`, running a real router (AS 64500, passive) for speakers in this process (AS
    /// 64512, from `neighbors`: by default the machine's management address).
    static func withRouter(
        _ kind: RealRouter.Kind, asn: UInt32 = 64_500, password: String? = nil, ttlSecurity: Bool = false,
        gracefulRestart: Bool = false, bfd: Bool = false,
        neighbors: [String] = [LabTopology.managementHost.description],
        _ body: (LabNetwork, RealRouter) async throws -> Void
    ) async throws {
        try await ManagementSegment.exclusively {
            LabNetwork.sweep(prefixFamily: family, olderThan: 3600)
            let prefix = "\(family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
            let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: ["router"], management: true))
            defer { lab.down() }
            // Further speakers in this process use further addresses on the machine's end of the management link.
            try lab.up(
                additional: neighbors.filter { $0 != LabTopology.managementHost.description }.map {
                    ["addr", "add", "\($0)/24", "dev", "\(prefix)-m"]
                })
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-test-\(prefix)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let router = try RealRouter.start(
                kind, in: lab, host: "router", asn: asn, neighbors: neighbors,
                neighborASN: 64_512, password: password, ttlSecurity: ttlSecurity, gracefulRestart: gracefulRestart,
                bfd: bfd, directory: directory)
            defer { router.stop() }
            do {
                try await body(lab, router)
            } catch {
                print("---- \(kind)\n\(router.log.suffix(3000))")
                throw error
            }
        }
    }

    /// Runs `services` in a ServiceGroup while `body` runs, then shuts them down gracefully (also when it throws).
    static func running(_ services: [any Service], logger: Logger, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        let task = Task { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// A session from this process to the lab's router.
    static func routerPeer(
        _ lab: LabNetwork, peerASN: UInt32 = 64_500, password: String? = nil, ttl: Int? = nil,
        restartTime: UInt16? = nil, from source: String = LabTopology.managementHost.description, logger: Logger
    ) -> BGPPeer {
        BGPPeer(
            configuration: .init(
                localASN: 64_512, peerASN: peerASN,
                routerID: IPAddress(source).flatMap {
                    if case .v4(let id) = $0 { id } else { nil }
                } ?? 0xC612_0001, holdTime: 9,
                families: [.ipv4Unicast, .ipv6Unicast], retryInitial: .milliseconds(200), retryMaximum: .seconds(2),
                restartTime: restartTime),
            endpoint: .init(
                address: lab.topology.managementAddress(of: "router").description,
                sourceAddress: source, connectTimeout: .seconds(1),
                password: password.map { Array($0.utf8) }, ttl: ttl),
            logger: logger)
    }

    /// Graceful restart with BIRD: a speaker that stops gracefully leaves its routes at the router (kept as stale);
    /// its successor's routes and End-of-RIB replace them — what it no longer announces goes, the rest stays.
    @Test func aGracefulRestartKeepsTheRoutesUntilTheNextSessionSaysWhatIsCurrent() async throws {
        try await Self.withRouter(.bird, gracefulRestart: true) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let nextHop = IPAddress(LabTopology.managementHost.description)!
            let first = Self.routerPeer(lab, restartTime: 120, logger: logger)
            first.advertise(
                ["192.0.2.100/32", "192.0.2.101/32"].map { Route(prefix: Self.prefix($0), nextHop: nextHop) })
            try await Self.running([first], logger: logger) {
                try await eventually("BIRD holds both routes", timeout: .seconds(30)) {
                    let routes = try router.routes()
                    return routes.contains("192.0.2.100/32") && routes.contains("192.0.2.101/32")
                }
            }
            try await eventually("BIRD saw the session end", timeout: .seconds(10)) { try !router.isEstablished() }
            let kept = try router.routes()
            #expect(
                kept.contains("192.0.2.100/32") && kept.contains("192.0.2.101/32"),
                "the routes stay through the restart: \(kept)")
            let second = Self.routerPeer(lab, restartTime: 120, logger: logger)
            second.advertise(
                ["192.0.2.101/32", "192.0.2.102/32"].map { Route(prefix: Self.prefix($0), nextHop: nextHop) })
            try await Self.running([second], logger: logger) {
                var routes = ""
                do {
                    try await eventually("End-of-RIB flushed the stale route", timeout: .seconds(30)) {
                        routes = try router.routes()
                        return !routes.contains("192.0.2.100/32") && routes.contains("192.0.2.101/32")
                            && routes.contains("192.0.2.102/32")
                    }
                } catch {
                    throw TestFailure("\(error); BIRD shows: \(routes)")
                }
            }
        }
    }

    /// The TTL reaches the wire: BIRD with RFC 5082 TTL security accepts only packets sent with TTL 255 (what
    /// `ebgpMultiHop` sets): such a session comes up, while with the TTL of 1 an external peer gets without it the
    /// router's kernel drops what it sends once BIRD has the connection (IP_MINTTL), so BIRD never sees an OPEN and
    /// closes it; the session never establishes.
    @Test func theSessionsTTLReachesTheWire() async throws {
        try await Self.withRouter(.bird, ttlSecurity: true) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let multihop = Self.routerPeer(lab, ttl: 255, logger: logger)
            try await Self.running([multihop], logger: logger) {
                try await eventually("TTL 255 is accepted", timeout: .seconds(30)) {
                    let routerUp = try router.isEstablished()
                    return multihop.status.state == .established && routerUp
                }
            }
            let single = Self.routerPeer(lab, ttl: 1, logger: logger)
            try await Self.running([single], logger: logger) {
                try await eventually("BIRD closes the TTL 1 connection", timeout: .seconds(20)) {
                    single.status.lastError?.contains("closed by peer") == true
                }
                #expect(single.status.state != .established)
                #expect(try !router.isEstablished())
            }
        }
    }

    static let pathFailures: [(RealRouter.Kind, Bool)] =
        [(.bird, true), (.frr, true)]
        + RealRouter.Kind.allCases.map {
            ($0, false)
        }

    /// A path that dies: the router's port is taken off the switch (its link stays up, so only silence tells).
    /// Without BFD, both sides end the session when the 9 s hold time runs out. With BFD (BIRD's and FRR's own
    /// daemons, single hop, 300 ms × 3 both ways), both ends first bring BFD Up, then find the path dead long before
    /// the hold time: our BGP session ends with reason BFD, and so does the router's. Either way the router drops
    /// our route, and with the port back everything returns.
    @Test(arguments: pathFailures)
    func aDeadPathEndsTheSessionOnBothSides(_ kind: RealRouter.Kind, bfd: Bool) async throws {
        try await Self.withRouter(kind, bfd: bfd) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let routerAddress = lab.topology.managementAddress(of: "router")
            let me = IPAddress(LabTopology.managementHost.description)!
            let peer = Self.routerPeer(lab, logger: logger)
            peer.advertise([Route(prefix: Self.prefix("192.0.2.100/32"), nextHop: me)])
            let agent = BFDAgent(listenAddresses: [me], logger: logger)
            if bfd {
                agent.watch(routerAddress, from: me, parameters: .init()) { change in
                    if change.isFailure { peer.bfdDown("session down (\(change.diagnostic))") }
                }
            }
            func up() throws -> Bool {
                try router.isEstablished() && peer.status.state == .established
                    && router.routes().contains("192.0.2.100/32")
                    && (!bfd || router.bfdIsUp() && agent.state(of: routerAddress) == .up)
            }
            try await Self.running([peer, agent], logger: logger) {
                try await eventually(
                    "BGP\(bfd ? " and BFD" : "") up on both sides with the route", timeout: .seconds(30)
                ) {
                    try up()
                }
                let port = ["-n", lab.topology.switchNamespace, "link", "set", "m-router"]
                _ = try await ChildProcess.run("/usr/sbin/ip", port + ["nomaster"], standardError: .discarded)
                let reason = bfd ? "BFD:" : "hold timer expired"
                do {
                    try await eventually("both sides ended the BGP session (\(reason))", timeout: .seconds(30)) {
                        let details = try router.neighborDetails()
                        return try peer.status.lastError?.hasPrefix(reason) == true && !router.isEstablished()
                            && !router.routes().contains("192.0.2.100/32")
                            // The router says why: BFD, or (BIRD names it) its own hold timer.
                            && (bfd ? details.contains("BFD") : kind != .bird || details.contains("Hold timer expired"))
                    }
                } catch {
                    throw TestFailure(
                        "\(error); ours: \(peer.status), BFD \(String(describing: agent.state(of: routerAddress))); "
                            + "router: \((try? router.neighborDetails()) ?? "")")
                }
                if bfd { #expect(agent.state(of: routerAddress) == .down) }
                _ = try await ChildProcess.run("/usr/sbin/ip", port + ["master", "br1"], standardError: .discarded)
                // (BIRD waits its `error wait time` before it takes the session back: 1–2 s here.)
                try await eventually("all back after the port returns", timeout: .seconds(30)) { try up() }
            }
        }
    }

    /// TCP-MD5 (RFC 2385): with the router's password the session comes up and carries routes; without it, or
    /// with another one, the router's kernel drops every segment, so the connection never completes.
    @Test(arguments: RealRouter.Kind.allCases)
    func md5SignedSessionsNeedTheRoutersPassword(_ kind: RealRouter.Kind) async throws {
        try await Self.withRouter(kind, password: "pylon-md5-test") { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let unsigned = Self.routerPeer(lab, logger: logger)
            let wrong = Self.routerPeer(lab, password: "not-the-password", logger: logger)
            try await Self.running([unsigned, wrong], logger: logger) {
                try await eventually("connections without the right signature fail", timeout: .seconds(20)) {
                    unsigned.status.lastError != nil && wrong.status.lastError != nil
                }
                #expect(unsigned.status.state != .established && wrong.status.state != .established)
                #expect(try !router.isEstablished())
            }
            let signed = Self.routerPeer(lab, password: "pylon-md5-test", logger: logger)
            try await Self.running([signed], logger: logger) {
                try await eventually("the signed session is established on both sides", timeout: .seconds(30)) {
                    let routerUp = try router.isEstablished()
                    return signed.status.state == .established && routerUp
                }
                let nextHop = IPAddress(LabTopology.managementHost.description)!
                signed.advertise([Route(prefix: Self.prefix("192.0.2.100/32"), nextHop: nextHop)])
                try await eventually("\(kind) holds the route", timeout: .seconds(20)) {
                    try router.routes().contains("192.0.2.100/32")
                }
            }
        }
    }

    /// eBGP (router in AS 64500) and iBGP (both in AS 64512: no AS in the path, LOCAL_PREF sent); IPv4 routes and an
    /// IPv6 one (MP_REACH_NLRI over the IPv4 session, its next hop on the router's own IPv6 LAN so that every router
    /// resolves it).
    @Test(arguments: RealRouter.Kind.allCases, [false, true])
    func theRouterLearnsAndForgetsOurRoutesWithTheirAttributes(_ kind: RealRouter.Kind, iBGP: Bool) async throws {
        let routerASN: UInt32 = iBGP ? 64_512 : 64_500
        try await Self.withRouter(kind, asn: routerASN) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let peer = Self.routerPeer(lab, peerASN: routerASN, logger: logger)
            try await Self.running([peer], logger: logger) {
                try await eventually("the session is established on both sides", timeout: .seconds(30)) {
                    let routerUp = try router.isEstablished()
                    return peer.status.state == .established && routerUp
                }
                let nextHop = IPAddress(LabTopology.managementHost.description)!
                peer.advertise([
                    Route(
                        prefix: Self.prefix("192.0.2.100/32"), nextHop: nextHop, localPreference: 300,
                        communities: [64_512 << 16 | 100], largeCommunities: [.init(4_200_000_001, 1, 2)]),
                    Route(prefix: Self.prefix("192.0.2.101/32"), nextHop: nextHop),
                    Route(prefix: Self.prefix("198.51.100.0/24"), nextHop: nextHop),
                    Route(
                        prefix: Self.prefix("2001:db8:1::100/128"), nextHop: IPAddress("2001:db8::99")!,
                        communities: [64_512 << 16 | 100]),
                ])
                var routes = ""
                do {
                    try await eventually("\(kind) holds the four routes", timeout: .seconds(20)) {
                        routes = try router.routes()
                        return ["192.0.2.100/32", "192.0.2.101/32", "198.51.100.0/24", "2001:db8:1::100/128"]
                            .allSatisfy { routes.contains($0) }
                    }
                } catch {
                    throw TestFailure("\(error); the router shows: \(routes)")
                }
                for expected in [
                    router.nextHop(nextHop.description), iBGP ? router.localPreference(300) : router.asPath(64_512),
                    router.community(64_512, 100), router.largeCommunity(4_200_000_001, 1, 2), "2001:db8::99",
                ] {
                    #expect(routes.contains(expected), "\(kind) shows \(expected): \(routes)")
                }

                peer.advertise([Route(prefix: Self.prefix("192.0.2.101/32"), nextHop: nextHop)])
                try await eventually("\(kind) drops the withdrawn routes", timeout: .seconds(20)) {
                    routes = try router.routes()
                    return routes.contains("192.0.2.101/32") && !routes.contains("192.0.2.100/32")
                        && !routes.contains("198.51.100.0/24") && !routes.contains("2001:db8:1::100")
                }
                #expect(peer.status.updatesSent >= 2 && peer.status.prefixesAdvertised == 1)
            }
            // A graceful stop ends the session at once (Cease), and the router forgets the routes.
            try await eventually("\(kind) saw the session end and dropped the routes", timeout: .seconds(10)) {
                let routerUp = try router.isEstablished()
                let routes = try router.routes()
                return !routerUp && !routes.contains("192.0.2.101")
            }
        }
    }

    /// Three speakers announcing the same address, as three nodes do: each router holds three paths, one per
    /// speaker with its own next hop (FRR marks all three multipath); a speaker that stops takes only its own path.
    @Test(arguments: RealRouter.Kind.allCases)
    func threeSpeakersGiveThreeEqualPaths(_ kind: RealRouter.Kind) async throws {
        let sources = ["198.18.0.1", "198.18.0.2", "198.18.0.3"]
        try await Self.withRouter(kind, neighbors: sources) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            let peers = sources.map { source in
                let peer = Self.routerPeer(lab, from: source, logger: logger)
                peer.advertise([Route(prefix: Self.prefix("192.0.2.100/32"), nextHop: IPAddress(source)!)])
                return peer
            }
            try await Self.running(Array(peers.dropLast()), logger: logger) {
                try await Self.running([peers.last!], logger: logger) {
                    var paths: (held: [String], multipath: [String]) = ([], [])
                    do {
                        try await eventually("\(kind) holds three equal paths", timeout: .seconds(30)) {
                            paths = try router.paths(to: "192.0.2.100/32")
                            return paths.held.sorted() == sources && paths.multipath.sorted() == sources
                        }
                    } catch {
                        throw TestFailure("\(error); \(kind) shows \(paths)")
                    }
                }
                try await eventually("the stopped speaker's path goes, the others stay", timeout: .seconds(20)) {
                    try router.paths(to: "192.0.2.100/32").held.sorted() == Array(sources.prefix(2))
                }
            }
        }
    }

    /// A TCP listener on loopback standing in for a router, and its port.
    static func loopbackListener() async throws -> (
        NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, Int
    ) {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return (listener, listener.channel.localAddress!.port!)
    }

    /// What a hostile router does on one connection, and the NOTIFICATION the speaker must answer with.
    struct Scenario: Sendable {
        var name: String
        /// Sent after the speaker's OPEN arrives.
        var send: [[UInt8]]
        var expected: BGPNotification
    }

    static let marker = [UInt8](repeating: 0xFF, count: 16)

    static func open(asn: UInt16 = 64_501, version: UInt8 = 4) -> [UInt8] {
        [UInt8](marker) + [0, 29, 1, version, UInt8(asn >> 8), UInt8(asn & 0xFF), 0, 9, 192, 0, 2, 99, 0]
    }

    static func update(_ attributes: [UInt8], nlri: [UInt8]) -> [UInt8] {
        let body: [UInt8] = [0, 0, 0, UInt8(attributes.count)] + attributes + nlri
        return marker + [0, UInt8(19 + body.count), 2] + body
    }

    static let keepalive = marker + [0, 19, 4]
    static let goodAttributes: [UInt8] = [0x40, 1, 1, 0, 0x40, 2, 4, 2, 1, 0xFB, 0xF5, 0x40, 3, 4, 192, 0, 2, 99]

    static let scenarios: [Scenario] = [
        Scenario(name: "version 3", send: [open(version: 3)], expected: .unsupportedVersionNumber),
        Scenario(name: "bad marker", send: [[0] + keepalive.dropFirst()], expected: .connectionNotSynchronized),
        Scenario(name: "oversized", send: [marker + [0x13, 0x88, 2]], expected: .badMessageLength(5000)),
        Scenario(name: "unknown type", send: [marker + [0, 19, 9]], expected: .badMessageType(9)),
        Scenario(name: "wrong AS", send: [open(asn: 64_999)], expected: .badPeerAS),
        Scenario(
            name: "treat-as-withdraw, then a bad prefix",
            send: [
                open(), keepalive,
                // AS_PATH with segment type 7: treated as withdraw, no NOTIFICATION.
                update(
                    [0x40, 1, 1, 0, 0x40, 2, 4, 7, 1, 0xFB, 0xF5, 0x40, 3, 4, 192, 0, 2, 99],
                    nlri: [32, 203, 0, 113, 1]),
                update(goodAttributes, nlri: [24, 203, 0, 113]),
                update(goodAttributes, nlri: [33, 203, 0, 113, 2, 0]),
            ],
            expected: .invalidNetworkField),
        Scenario(name: "OPEN when established", send: [open(), keepalive, keepalive, open()], expected: .fsmError(3)),
    ]

    @Test func aHostilePeerGetsTheRightNotificationsWhileBIRDsSessionStaysUp() async throws {
        try await Self.withRouter(.bird) { lab, router in
            var logger = Logger(label: "test.bgp")
            logger.logLevel = .info
            // The hostile router: a plain TCP listener on loopback, one scenario per connection the speaker makes.
            let (listener, port) = try await Self.loopbackListener()
            let hostile = BGPPeer(
                configuration: .init(
                    localASN: 64_512, peerASN: 64_501, routerID: 0xC612_0001, holdTime: 9, families: [.ipv4Unicast],
                    retryInitial: .milliseconds(100), retryMaximum: .milliseconds(200)),
                endpoint: .init(address: "127.0.0.1", port: port), logger: logger)
            let good = Self.routerPeer(lab, logger: logger)
            var answers: [BGPNotification?] = []
            try await Self.running([good, hostile], logger: logger) {
                try await eventually("the session to BIRD is established", timeout: .seconds(30)) {
                    good.status.state == .established
                }
                try await listener.executeThenClose { connections in
                    var iterator = connections.makeAsyncIterator()
                    for scenario in Self.scenarios {
                        guard let connection = try await iterator.next() else { break }
                        let answer = try await connection.executeThenClose { inbound, outbound in
                            var framer = BGPFramer()
                            var sent = false
                            for try await buffer in inbound {
                                framer.append(buffer.readableBytesView)
                                while let bytes = try framer.next() {
                                    let message = try BGPMessage.decode(bytes)
                                    if case .notification(let notification) = message { return Optional(notification) }
                                    if !sent, case .open = message {
                                        sent = true
                                        for part in scenario.send { try await outbound.write(ByteBuffer(bytes: part)) }
                                    }
                                }
                            }
                            return nil
                        }
                        answers.append(answer)
                        #expect(good.status.state == .established, "BIRD's session is unaffected by \(scenario.name)")
                    }
                }
                #expect(try router.isEstablished(), "BIRD kept its session up throughout")
            }
            for (scenario, answer) in zip(Self.scenarios, answers) {
                #expect(
                    answer == scenario.expected, "\(scenario.name): \(answer.map(\.description) ?? "no NOTIFICATION")")
            }
            #expect(answers.count == Self.scenarios.count)
        }
    }

    /// A router announcing more prefixes than are tracked (600 against a limit of 250, in UPDATEs built with the
    /// codec): the session stays up, exactly the limit is tracked, the rest are counted as ignored; withdrawals
    /// lower the count again.
    @Test func aRouterSendingMoreThanTheLimitCostsBoundedMemoryAndKeepsTheSession() async throws {
        var logger = Logger(label: "test.bgp")
        logger.logLevel = .info
        let (listener, port) = try await Self.loopbackListener()
        let peer = BGPPeer(
            configuration: .init(
                localASN: 64_512, peerASN: 64_501, routerID: 0xC612_0001, holdTime: 9, families: [.ipv4Unicast]),
            endpoint: .init(address: "127.0.0.1", port: port), maximumReceivedPrefixes: 250, logger: logger)
        func prefixes(_ range: Range<Int>) -> [IPNetwork] {
            range.map { Self.prefix("198.51.\(100 + $0 / 256).\($0 % 256)/32") }
        }
        let attributes: [PathAttribute] = [
            .origin(.igp), .asPath([.init(.sequence, [64_501])]), .nextHop(IPAddress("192.0.2.99")!),
        ]
        let routerOpen = BGPMessage.open(
            BGPOpen(asn: 64_501, holdTime: 9, identifier: 0xC000_0263, capabilities: [.fourOctetAS(64_501)]))
        try await Self.running([peer], logger: logger) {
            try await listener.executeThenClose { connections in
                var iterator = connections.makeAsyncIterator()
                guard let connection = try await iterator.next() else { throw TestFailure("no connection") }
                try await connection.executeThenClose { inbound, outbound in
                    func send(_ message: BGPMessage) async throws {
                        try await outbound.write(ByteBuffer(bytes: message.encoded(fourOctetAS: true)))
                    }
                    var framer = BGPFramer()
                    var opened = false
                    reading: for try await buffer in inbound {
                        framer.append(buffer.readableBytesView)
                        while let bytes = try framer.next() {
                            guard !opened, case .open = try BGPMessage.decode(bytes) else { continue }
                            opened = true
                            break reading
                        }
                    }
                    try await send(routerOpen)
                    try await send(.keepalive)
                    try await eventually("the session is established", timeout: .seconds(10)) {
                        peer.status.state == .established
                    }
                    for chunk in stride(from: 0, to: 600, by: 200) {
                        try await send(
                            .update(
                                BGPUpdate(attributes: attributes, nlri: prefixes(chunk..<chunk + 200))))
                    }
                    try await eventually("600 prefixes arrived", timeout: .seconds(10)) {
                        peer.status.prefixesReceived + peer.status.prefixesIgnored == 600
                    }
                    #expect(peer.status.prefixesReceived == 250)
                    #expect(peer.status.prefixesIgnored == 350)
                    #expect(peer.status.state == .established)
                    try await send(.update(BGPUpdate(withdrawn: prefixes(0..<100))))
                    try await eventually("withdrawals lower the count", timeout: .seconds(10)) {
                        peer.status.prefixesReceived == 150
                    }
                    #expect(peer.status.state == .established)
                }
            }
        }
    }
}
