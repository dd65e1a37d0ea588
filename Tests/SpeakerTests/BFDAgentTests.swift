import BFD
import CLinuxNet
import Glibc
import Logging
import NIOCore
import NIOPosix
import NetCore
import PylonTestSupport
import Speaker
import Synchronization
import Testing

/// The BFD agent on real UDP sockets over loopback: two agents bring a session up, AdminDown is told apart from a
/// failure, the kernel filter keeps out packets that did not arrive with TTL 255, and junk changes nothing.
@Suite(.serialized) struct BFDAgentTests {
    static let loopback = IPAddress("127.0.0.1")!

    /// Two free UDP ports on loopback, for two agents that send to each other.
    static func ports() -> (Int, Int) {
        let base = Int.random(in: 20_000..<30_000)
        return (base, base + 1)
    }

    /// Records the changes an agent reports.
    final class Changes: Sendable {
        let seen = Mutex<[BFDAgent.Change]>([])
        var all: [BFDAgent.Change] { seen.withLock { $0 } }
        func handler() -> BFDAgent.Handler { { change in self.seen.withLock { $0.append(change) } } }
    }

    static func running<T>(_ agents: [BFDAgent], _ body: () async throws -> T) async throws -> T {
        let tasks = agents.map { agent in Task { try await agent.run() } }
        defer { for task in tasks { task.cancel() } }
        let result = try await body()
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        return result
    }

    static let fast = BFDAgent.Parameters(
        desiredMinTxInterval: .milliseconds(50), requiredMinRxInterval: .milliseconds(50), detectMultiplier: 3)

    @Test func twoAgentsBringASessionUpAndAdminDownIsNoFailure() async throws {
        let (portA, portB) = Self.ports()
        let logger = Logger(label: "test.bfd")
        let a = BFDAgent(listenAddresses: [Self.loopback], listenPort: portA, peerPort: portB, logger: logger)
        let b = BFDAgent(listenAddresses: [Self.loopback], listenPort: portB, peerPort: portA, logger: logger)
        let changesA = Changes()
        try await Self.running([a, b]) {
            a.watch(Self.loopback, from: Self.loopback, parameters: Self.fast, handler: changesA.handler())
            b.watch(Self.loopback, from: nil, parameters: Self.fast, handler: { _ in })
            // The handler hears of a change after the state shows it: wait for both.
            try await eventually("both ends Up", timeout: .seconds(10)) {
                a.state(of: Self.loopback) == .up && b.state(of: Self.loopback) == .up && changesA.all.last?.to == .up
            }
            #expect(changesA.all.last?.peerState != .adminDown)
            b.unwatch(Self.loopback)
            try await eventually("A hears AdminDown", timeout: .seconds(10)) {
                a.state(of: Self.loopback) == .down && changesA.all.last?.to == .down
            }
            let down = try #require(changesA.all.last)
            #expect(down.from == .up && down.to == .down && down.peerState == .adminDown && !down.isFailure)
            #expect(down.diagnostic == .neighborSignaledSessionDown)
            #expect(b.state(of: Self.loopback) == nil)
            b.watch(Self.loopback, from: nil, parameters: Self.fast, handler: { _ in })
            try await eventually("Up again", timeout: .seconds(10)) {
                a.state(of: Self.loopback) == .up && b.state(of: Self.loopback) == .up
            }
        }
    }

    /// A UDP socket on loopback that collects the BFD packets sent to `port`.
    static func collector(port: Int) async throws -> (any Channel, AsyncStream<BFDPacket>) {
        let (packets, sink) = AsyncStream.makeStream(of: BFDPacket.self)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(sink))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return (channel, packets)
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let sink: AsyncStream<BFDPacket>.Continuation
        init(_ sink: AsyncStream<BFDPacket>.Continuation) { self.sink = sink }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
            if let packet = try? BFDPacket.decode(bytes[...]) { sink.yield(packet) }
        }
    }

    /// Sends `packet` to loopback `port` with the given TTL.
    static func send(_ bytes: [UInt8], to port: Int, ttl: Int32) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: errno \(errno)") }
        defer { close(descriptor) }
        var ttl = ttl
        guard setsockopt(descriptor, Int32(IPPROTO_IP), IP_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw TestFailure("IP_TTL: errno \(errno)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == bytes.count else { throw TestFailure("sendto: errno \(errno)") }
    }

    static func opening(_ discriminator: UInt32) -> [UInt8] {
        BFDPacket(
            state: .down, detectMultiplier: 3, myDiscriminator: discriminator, yourDiscriminator: 0,
            desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 50_000
        ).encoded()
    }

    /// RFC 5881 §5: a packet that arrives with a TTL below 255 came from beyond the link and is discarded. The
    /// agent answers the first packet it accepts (Down → Init) naming the sender's discriminator, and loopback keeps
    /// order: so the first answer that names one tells which of the two packets got through. Junk before them (every
    /// decoding error, a packet for an unknown discriminator) is dropped without effect.
    @Test func onlyPacketsThatArriveWithTTL255AreHeardAndJunkIsDropped() async throws {
        let (portA, portB) = Self.ports()
        let a = BFDAgent(
            listenAddresses: [Self.loopback], listenPort: portA, peerPort: portB, logger: Logger(label: "test.bfd"))
        let (collector, packets) = try await Self.collector(port: portB)
        defer { collector.close(promise: nil) }
        try await Self.running([a]) {
            a.watch(Self.loopback, from: Self.loopback, parameters: Self.fast, handler: { _ in })
            var iterator = packets.makeAsyncIterator()
            let first = try #require(await iterator.next(), "the agent speaks first (active mode)")
            #expect(first.state == .down && first.yourDiscriminator == 0)
            var stray = first
            stray.yourDiscriminator = first.myDiscriminator &+ 1
            stray.state = .up
            let junk: [[UInt8]] = [
                [], [0x20], Array(Self.opening(5).prefix(23)), [0x40] + Self.opening(5).dropFirst(),
                Self.opening(5).enumerated().map { $0.offset == 3 ? 200 : $0.element }, stray.encoded(),
            ]
            for datagram in junk { try Self.send(datagram, to: portA, ttl: 255) }
            try Self.send(Self.opening(111), to: portA, ttl: 64)
            try Self.send(Self.opening(222), to: portA, ttl: 255)
            var answer: BFDPacket?
            while let next = await iterator.next() {
                if next.yourDiscriminator != 0 {
                    answer = next
                    break
                }
            }
            #expect(answer?.yourDiscriminator == 222, "the TTL 64 packet (discriminator 111) was not heard")
            #expect(answer?.state == .initializing)
            #expect(a.state(of: Self.loopback) == .initializing)
        }
    }
}
