import Foundation
import KubeAPI
import KubeClient
import Logging
import NetCore
import PylonTestSupport
import Testing

@testable import KubeServer

/// What one client may hold on the API server (issue 21): connections and watches per address, and silent
/// connections closed after the handshake timeout — while other clients are served as before.
@Suite(.timeLimit(.minutes(5))) struct ClientLimitsTests {
    @Test func tableCountsEachClientWithinItsLimits() {
        var table = ClientTable(limits: ClientLimits(connectionsPerClient: 2, watchesPerClient: 1))
        let taken = [
            table.acquire(.connection, for: "192.0.2.1"), table.acquire(.connection, for: "192.0.2.1"),
            table.acquire(.connection, for: "192.0.2.1"), table.acquire(.connection, for: "192.0.2.2"),
            table.acquire(.watch, for: "192.0.2.1"), table.acquire(.watch, for: "192.0.2.1"),
        ]
        // The third connection and the second watch from one address are refused; another address counts apart.
        #expect(taken == [true, true, false, true, true, false])
        #expect(table.count(.connection, for: "192.0.2.1") == 2)
        table.release(.connection, for: "192.0.2.1")
        let again = table.acquire(.connection, for: "192.0.2.1")
        #expect(again, "a released connection makes room")
        for _ in 0..<2 { table.release(.connection, for: "192.0.2.1") }
        table.release(.watch, for: "192.0.2.1")
        table.release(.watch, for: "192.0.2.1")  // one release too many changes nothing
        #expect(table.clientCount == 1, "a client holding nothing is forgotten")
        #expect(table.count(.watch, for: "192.0.2.1") == 0)
    }

    /// A TCP connection from `source` (any loopback address) to the server, holding nothing but the socket.
    final class RawConnection {
        let descriptor: CInt

        init(port: Int, source: String) throws {
            descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw TestFailure("socket: errno \(errno)") }
            // A sockaddr_in laid out by hand (family in host order, port and address in network order): its
            // members' visibility depends on which C module imported the header first.
            func address(_ host: String, _ port: Int) -> [UInt8] {
                let family = UInt16(AF_INET)
                let ip: [UInt8] =
                    IPAddress(host).map { ip in (0..<4).map { UInt8(truncatingIfNeeded: ip.numeric >> (24 - 8 * $0)) } }
                    ?? [0, 0, 0, 0]
                return [UInt8(family & 0xFF), UInt8(family >> 8), UInt8(port >> 8), UInt8(port & 0xFF)] + ip
                    + [UInt8](repeating: 0, count: 8)
            }
            let local = address(source, 0)
            let remote = address("127.0.0.1", port)
            let connected = local.withUnsafeBytes { l in
                remote.withUnsafeBytes { r in
                    let lp = l.baseAddress!.assumingMemoryBound(to: sockaddr.self)
                    let rp = r.baseAddress!.assumingMemoryBound(to: sockaddr.self)
                    let size = socklen_t(l.count)
                    return bind(descriptor, lp, size) == 0 && connect(descriptor, rp, size) == 0
                }
            }
            guard connected else {
                close(descriptor)
                throw TestFailure("connect from \(source): errno \(errno)")
            }
        }

        /// Whether the server has closed its end (a read returns end of file or a reset), without waiting.
        var closedByServer: Bool {
            var byte: UInt8 = 0
            let n = recv(descriptor, &byte, 1, CInt(MSG_DONTWAIT))
            return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }

        /// Sends a plain HTTP request and reads the answer to the end (at most 5 s): an admitted connection gets the
        /// server's "HTTP request to an HTTPS server" 400, a refused one nothing.
        func answerToPlainHTTP() -> String {
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = Array("GET /api HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            guard send(descriptor, request, request.count, CInt(MSG_NOSIGNAL)) == request.count else { return "" }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1024)
            while answer.count < 64 * 1024 {
                let n = recv(descriptor, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                answer += buffer[0..<n]
            }
            return String(decoding: answer, as: UTF8.self)
        }

        deinit { close(descriptor) }
    }

    @Test func aSilentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await TestAPIServer.start(clientLimits: ClientLimits(handshakeTimeout: .seconds(1)))
        defer { Task { await server.stop() } }
        let silent = try RawConnection(port: server.port, source: "127.0.0.2")
        try await eventually("the server closes a connection that never starts TLS", timeout: .seconds(15)) {
            silent.closedByServer
        }
        // Others are served. The timeout applies to them too, and on a loaded machine one TLS handshake can take
        // longer than it: a request that lost its connection that way is sent again.
        let client = try server.client()
        try await eventually("another client is served", timeout: .seconds(15)) {
            (try? await client.raw("GET", "/api/v1/namespaces").status) == 200
        }
        try await client.shutdown()
    }

    @Test func oneClientsConnectionsAreBoundedAndOthersStillServed() async throws {
        let server = try await TestAPIServer.start(
            clientLimits: ClientLimits(connectionsPerClient: 4, handshakeTimeout: .seconds(300)))
        defer { Task { await server.stop() } }
        // Child channels are set up on two event loops, so which of five connections is the one too many is not
        // known in advance: exactly one is closed, the four counted stay open.
        var held = try (0..<5).map { _ in try RawConnection(port: server.port, source: "127.0.0.2") }
        try await eventually("one of five connections from one address is closed") {
            held.filter(\.closedByServer).count == 1
        }
        held.removeAll { $0.closedByServer }
        #expect(held.count == 4 && held.allSatisfy { !$0.closedByServer }, "the four within the limit stay open")
        let refused = try RawConnection(port: server.port, source: "127.0.0.2")
        #expect(refused.answerToPlainHTTP() == "", "one more is closed unanswered")
        // A client from another address is served while 127.0.0.2 is at its limit.
        let client = try server.client()
        #expect(try await client.raw("GET", "/api/v1/namespaces").status == 200)
        try await client.shutdown()
        // Once one of the four goes, 127.0.0.2 may connect again.
        held.removeFirst()
        try await eventually("a closed connection is released") {
            try RawConnection(port: server.port, source: "127.0.0.2").answerToPlainHTTP()
                .hasPrefix("HTTP/1.0 400 Bad Request")
        }
        withExtendedLifetime(held) {}
    }

    @Test func oneClientsWatchesAreBoundedWithRetryAfter() async throws {
        let server = try await TestAPIServer.start(clientLimits: ClientLimits(watchesPerClient: 2))
        defer { Task { await server.stop() } }
        let client = try server.client()
        _ = try await client.create(
            .configMaps, namespace: "default", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "seen"]])
        // Two watches, each known to be running once its first event arrived.
        var watches: [Task<Void, any Error>] = []
        for _ in 0..<2 {
            let (started, signal) = AsyncStream<Void>.makeStream()
            watches.append(
                Task {
                    for try await _ in client.watch(.configMaps, namespace: "default", allowBookmarks: false) {
                        signal.yield()
                    }
                })
            for await _ in started { break }
        }
        let (code, body) = try await client.raw("GET", "/api/v1/namespaces/default/configmaps?watch=true")
        #expect(code == 429)
        let status = (try? JSONParser.parse(body)).flatMap(Status.init(json:))
        #expect(status?.reason == "TooManyRequests")
        #expect(status?.message.contains("at most 2 at once") == true, "\(status?.message ?? "")")
        #expect(try await client.raw("GET", "/api/v1/namespaces/default/configmaps").status == 200, "lists still work")
        // Without bookmarks or events nothing is written to a watch: the server learns that its client has gone
        // from the connection's close.
        watches[0].cancel()
        try await eventually("a finished watch makes room") {
            try await client.raw("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1").status
                == 200
        }
        watches[1].cancel()
        try await client.shutdown()
    }

    /// The 429's `Retry-After`, which client-go waits for before it retries, is set by the handler itself.
    @Test func tooManyRequestsCarriesRetryAfter() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-test-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let storage = try Storage(directory: directory, historyLimit: 100, logger: .init(label: "test"))
        let limiter = ClientLimiter(limits: ClientLimits(watchesPerClient: 1))
        let handler = APIHandler(
            registry: ResourceRegistry(), storage: storage, token: nil, serviceCIDRs: [IPNetwork("10.43.0.0/16")!],
            clock: { 0 }, logger: .init(label: "test"), limiter: limiter)
        let watch = APIRequest(
            method: "GET", path: "/api/v1/namespaces/default/configmaps", query: ["watch": "true"],
            client: "192.0.2.7")
        let first = await handler.handle(watch)
        #expect(first.status == 200)
        let second = await handler.handle(watch)
        #expect(second.status == 429)
        #expect(second.headers["retry-after"] == "1")
        let other = await handler.handle(
            APIRequest(method: "GET", path: watch.path, query: watch.query, client: "192.0.2.8"))
        #expect(other.status == 200, "another client's watch is its own")
        await storage.shutdown()
    }
}
