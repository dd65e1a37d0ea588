import KubeAPI
import NIOCore
import NIOPosix
import PylonTestSupport
import Synchronization
import Testing

@testable import KubeClient

#if canImport(Glibc)
    import Glibc
#endif

/// The transport against a scripted HTTP/1.1 server on loopback (plain TCP; TLS is covered against `pylon server`
/// below and by every other client test).
@Suite(.timeLimit(.minutes(2))) struct HTTPTransportTests {
    /// What the scripted server does with a request: answer with these bytes, close the connection, or say nothing.
    enum Action: Sendable {
        case answer(String)
        case close
        case silence
    }

    /// Accepts connections on 127.0.0.1 and hands each request (head and `Content-Length` body) to `script` with
    /// the index of its connection and its index on that connection.
    final class ScriptedServer: Sendable {
        final class Log: Sendable {
            let entries = Mutex<[(connection: Int, index: Int, text: String)]>([])
            let closed = Mutex(0)
        }

        let channel: any Channel
        private let log = Log()
        var port: Int { channel.localAddress!.port! }
        var connections: Int { Set(log.entries.withLock { $0.map(\.connection) }).count }
        /// The requests received, in order.
        var requests: [String] { log.entries.withLock { $0.map(\.text) } }
        /// How many connections have been closed.
        var closedConnections: Int { log.closed.withLock { $0 } }

        init(script: @escaping @Sendable (_ connection: Int, _ index: Int) -> Action) async throws {
            let counter = Mutex(0)
            let log = self.log
            channel = try await ServerBootstrap(group: NIOSingletons.posixEventLoopGroup)
                .childChannelInitializer { child in
                    let number = counter.withLock { n in
                        defer { n += 1 }
                        return n
                    }
                    return child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(
                            Handler(connection: number, script: script) { index, text in
                                if let text {
                                    log.entries.withLock { $0.append((number, index, text)) }
                                } else {
                                    log.closed.withLock { $0 += 1 }
                                }
                            })
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func stop() async { try? await channel.close() }

        /// Closes the listening socket without waiting (for `defer`, so a failing test leaves nothing open).
        func close() { channel.close(promise: nil) }

        final class Handler: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            typealias OutboundOut = ByteBuffer
            let connection: Int
            let script: @Sendable (Int, Int) -> Action
            /// A request received, or (`nil`) the connection's close.
            let record: (Int, String?) -> Void
            var buffer: [UInt8] = []
            var index = 0

            init(
                connection: Int, script: @escaping @Sendable (Int, Int) -> Action,
                record: @escaping (Int, String?) -> Void
            ) {
                self.connection = connection
                self.script = script
                self.record = record
            }

            func channelInactive(context: ChannelHandlerContext) {
                record(index, nil)
                context.fireChannelInactive()
            }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                buffer += Array(unwrapInboundIn(data).readableBytesView)
                while let end = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                    let head = String(decoding: buffer[..<end], as: UTF8.self)
                    let length =
                        head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingPrefix(" ")) } ?? 0
                    guard buffer.count >= end + length else { return }
                    record(index, String(decoding: buffer[..<(end + length)], as: UTF8.self))
                    buffer.removeFirst(end + length)
                    switch script(connection, index) {
                    case .answer(let text):
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                    case .close: context.close(promise: nil)
                    case .silence: break
                    }
                    index += 1
                }
            }
        }
    }

    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    static func transport(_ server: ScriptedServer) throws -> HTTPTransport {
        try HTTPTransport(
            endpoint: .init(
                tls: false, host: "127.0.0.1", port: server.port, serverName: nil,
                authority: "127.0.0.1:\(server.port)"),
            tls: nil, maximumBodyBytes: 1 << 20)
    }

    @Test func requestsShareOneConnectionAndTheRequestIsWhole() async throws {
        let server = try await ScriptedServer { _, _ in .answer(Self.ok) }
        defer { server.close() }
        let transport = try Self.transport(server)
        defer { transport.shutdown() }
        for _ in 0..<3 {
            let response = try await transport.execute(
                "GET", "/api/v1/namespaces", headers: [("Accept", "application/json")], body: nil, timeout: .seconds(10)
            )
            #expect(response.status == 200 && response.reason == "OK" && response.keepAlive)
            #expect(String(buffer: response.body) == "ok")
        }
        let posted = try await transport.execute(
            "POST", "/api/v1/namespaces/default/configmaps", headers: [("Content-Type", "application/json")],
            body: Array("{\"a\":1}".utf8), timeout: .seconds(10))
        #expect(posted.status == 200)
        #expect(server.connections == 1)
        let last = server.requests.last
        #expect(
            last
                == "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
    }

    @Test func aReusedConnectionClosedUnansweredIsRetriedOnceExceptForAPost() async throws {
        // Connection 0 answers its first request and drops the second unanswered, as a server closing an idle
        // connection does; connection 1 answers one request, then drops the next.
        let server = try await ScriptedServer { connection, index in index == 0 ? .answer(Self.ok) : .close }
        defer { server.close() }
        let transport = try Self.transport(server)
        defer { transport.shutdown() }
        #expect(try await transport.execute("GET", "/a", headers: [], body: nil, timeout: .seconds(10)).status == 200)
        #expect(try await transport.execute("PATCH", "/b", headers: [], body: [], timeout: .seconds(10)).status == 200)
        #expect(server.connections == 2)
        // A POST may have been acted on: it is not sent again.
        await #expect {
            _ = try await transport.execute("POST", "/c", headers: [], body: [], timeout: .seconds(10))
        } throws: { error in
            "\(error)".contains("POST /c") && "\(error)".contains("closed")
        }
        #expect(server.connections == 2)
        // A fresh connection that fails is not retried either.
        let dropAll = try await ScriptedServer { _, _ in .close }
        defer { dropAll.close() }
        let second = try Self.transport(dropAll)
        defer { second.shutdown() }
        await #expect(throws: ClientError.self) {
            _ = try await second.execute("GET", "/d", headers: [], body: nil, timeout: .seconds(10))
        }
        #expect(dropAll.connections == 1)
    }

    @Test func silenceEndsAtTheDeadlineAndCancellationEndsTheRequest() async throws {
        let server = try await ScriptedServer { _, _ in .silence }
        defer { server.close() }
        let transport = try Self.transport(server)
        defer { transport.shutdown() }
        await #expect {
            _ = try await transport.execute("GET", "/slow", headers: [], body: nil, timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("GET /slow: no complete response before the deadline")
        }
        let request = Task {
            try await transport.execute("GET", "/cancelled", headers: [], body: nil, timeout: .seconds(60))
        }
        try await eventually("the request reaches the server") {
            server.requests.contains { $0.hasPrefix("GET /cancelled") }
        }
        request.cancel()
        await #expect(throws: CancellationError.self) { _ = try await request.value }
    }

    /// A TCP socket bound to a free loopback port without `listen`: connecting to that port is refused.
    static func boundButNotListening() -> (descriptor: CInt, port: Int)? {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func malformedAnswersRefusedConnectionsAndBadHeadersAreNamed() async throws {
        let server = try await ScriptedServer { _, index in
            index == 0 ? .answer("HTTP/1.1 2x0 OK\r\n\r\n") : .answer(Self.ok)
        }
        defer { server.close() }
        let transport = try Self.transport(server)
        defer { transport.shutdown() }
        await #expect {
            _ = try await transport.execute("GET", "/bad", headers: [], body: nil, timeout: .seconds(10))
        } throws: { error in
            "\(error)".contains("GET /bad") && "\(error)".contains("status code is not three digits")
        }
        await #expect {
            _ = try await transport.execute(
                "GET", "/x", headers: [("Authorization", "Bearer a\r\nInjected: yes")], body: nil, timeout: .seconds(10)
            )
        } throws: { error in
            "\(error)".contains("invalid value for header Authorization") && !"\(error)".contains("Bearer")
        }
        await #expect(throws: ClientError.self) {
            _ = try await transport.execute("GET", "/with space", headers: [], body: nil, timeout: .seconds(10))
        }
        // A port bound but not listening refuses connections, and no other test can take it meanwhile (a port a
        // stopped server just gave back could be bound by a test running in parallel).
        let closed = try #require(Self.boundButNotListening())
        defer { close(closed.descriptor) }
        let refused = try HTTPTransport(
            endpoint: .init(
                tls: false, host: "127.0.0.1", port: closed.port, serverName: nil, authority: "127.0.0.1"),
            tls: nil, maximumBodyBytes: 1 << 20)
        defer { refused.shutdown() }
        await #expect {
            _ = try await refused.execute("GET", "/", headers: [], body: nil, timeout: .seconds(10))
        } throws: { error in
            "\(error)" == "transport: GET /: cannot connect to 127.0.0.1: Connection refused"
        }
    }

    @Test func aStreamedBodyArrivesInPiecesAndItsConnectionClosesAtTheEndOrWhenTheConsumerStops() async throws {
        let chunks = (0..<40).map { "{\"event\":\($0)}\n" }
        let whole =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks.map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }.joined() + "0\r\n\r\n"
        let server = try await ScriptedServer { connection, _ in
            connection == 0
                ? .answer(whole)
                : .answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        }
        defer { server.close() }
        let transport = try Self.transport(server)
        defer { transport.shutdown() }
        let streamed = try await transport.stream("GET", "/watch", headers: [], timeout: .seconds(10))
        #expect(streamed.status == 200)
        var received = ""
        for try await piece in streamed.body { received += String(buffer: piece) }
        #expect(received == chunks.joined())
        try await eventually("the streamed connection is closed") { server.closedConnections == 1 }
        // A consumer that stops before the end closes the connection too.
        let unfinished = try await transport.stream("GET", "/watch", headers: [], timeout: .seconds(10))
        for try await piece in unfinished.body {
            #expect(String(buffer: piece) == "first")
            break
        }
        try await eventually("the abandoned stream's connection is closed") { server.closedConnections == 2 }
    }

    @Test func responsesLargerThanTheLimitAreRefused() async throws {
        let body = String(repeating: "z", count: 2048)
        let server = try await ScriptedServer { _, _ in
            .answer("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n\(body)")
        }
        defer { server.close() }
        let transport = try HTTPTransport(
            endpoint: .init(tls: false, host: "127.0.0.1", port: server.port, serverName: nil, authority: "x"),
            tls: nil, maximumBodyBytes: 1024)
        defer { transport.shutdown() }
        await #expect {
            _ = try await transport.execute("GET", "/big", headers: [], body: nil, timeout: .seconds(10))
        } throws: { error in
            "\(error)".contains("response body larger than 1024 bytes")
        }
    }

    /// TLS verification against `pylon server`'s own CA: on by default, by the server's name or IP address (NIOSSL
    /// accepts a certificate naming the connected IP address even when a server name is given).
    @Test func tlsVerifiesTheServerCertificate() async throws {
        try await TestAPIServer.with { server, _ in
            let base = try KubeConfigLoader(environment: [:]).load(kubeconfig: server.kubeconfig)
            func namespaces(_ change: (inout ClientConfiguration) -> Void) async throws -> Int {
                var configuration = base
                change(&configuration)
                let client = try KubeClient(configuration: configuration)
                defer { Task { try? await client.shutdown() } }
                return try await client.raw("GET", "/api/v1/namespaces").status
            }
            #expect(try await namespaces { _ in } == 200)
            #expect(try await namespaces { $0.tlsServerName = "localhost" } == 200)
            // Not signed by a CA in the system store.
            await #expect {
                _ = try await namespaces { $0.certificateAuthorityPEM = nil }
            } throws: { error in
                "\(error)".uppercased().contains("CERTIFICATE_VERIFY_FAILED")
            }
            #expect(
                try await namespaces {
                    $0.certificateAuthorityPEM = nil
                    $0.insecureSkipTLSVerify = true
                } == 200)
        }
    }
}
