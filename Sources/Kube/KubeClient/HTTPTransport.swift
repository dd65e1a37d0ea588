import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Sends HTTP/1.1 requests to one server and returns whole responses (or a streamed body, for watches), over a
/// pool of kept-alive connections (TLS when the server is `https`): a request's head and body leave in one write,
/// so in one TLS record.
///
/// Thread-safe. A request waits at most its timeout; failures throw `ClientError.transport` naming the method, the
/// path and the cause (a malformed answer included); cancellation throws `CancellationError`. A request that finds
/// a reused connection closed before any byte of its response arrived is sent once more on a new connection, unless
/// it is a POST (the server may have acted on it).
final class HTTPTransport: Sendable {
    /// Where to connect and what to call the server.
    struct Endpoint: Sendable, Equatable {
        var tls: Bool
        /// The host to connect to (a name or an IP address, without brackets) and its port.
        var host: String
        var port: Int
        /// The name expected in the server's certificate and sent as SNI; `nil` verifies the host's IP address.
        var serverName: String?
        /// The `Host` header.
        var authority: String
    }

    private struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<HTTPExchangeHandler>
    }

    private struct Pool {
        var idle: [Connection] = []
        /// Every open connection, idle or busy, by channel.
        var open: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    /// Idle connections kept for reuse beyond this many are closed.
    static let maximumIdle = 64
    static let idleTimeout: TimeAmount = .seconds(60)
    static let connectTimeout: TimeAmount = .seconds(10)

    let endpoint: Endpoint
    private let sslContext: NIOSSLContext?
    private let maximumBodyBytes: Int
    private let group: any EventLoopGroup
    private let pool = Mutex(Pool())

    /// - Throws: `ConfigurationError` when `tls` cannot make a TLS context (a bad certificate or key).
    init(
        endpoint: Endpoint, tls: TLSConfiguration?, maximumBodyBytes: Int,
        group: any EventLoopGroup = NIOSingletons.posixEventLoopGroup
    ) throws {
        self.endpoint = endpoint
        self.maximumBodyBytes = maximumBodyBytes
        self.group = group
        if endpoint.tls {
            do {
                sslContext = try NIOSSLContext(configuration: tls ?? .makeClientConfiguration())
            } catch {
                throw ConfigurationError("cannot set up TLS: \(error)")
            }
        } else {
            sslContext = nil
        }
    }

    /// Closes every connection: requests and streams in progress fail, later requests throw.
    func shutdown() {
        let open = pool.withLock { pool in
            pool.closed = true
            pool.idle = []
            return Array(pool.open.values)
        }
        for channel in open { channel.close(promise: nil) }
    }

    /// Sends one request and returns its response, whatever its status.
    /// - Parameters:
    ///   - target: the path and query, percent-encoded.
    ///   - headers: added after `Host`; `Content-Length` is added when there is a body or the method usually has one.
    func execute(
        _ method: String, _ target: String, headers: [(String, String)], body: [UInt8]?, timeout: Duration
    ) async throws -> HTTPExchangeHandler.Response {
        let request = try encode(method, target, headers: headers, body: body)
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        return try await send(method, target) { connection in
            let response = try await self.exchange(on: connection) { handler, promise in
                handler.start(request, bodyAllowed: method != "HEAD", deadline: deadline, promise: promise)
            }
            self.release(connection, reusable: response.keepAlive)
            return response
        }
    }

    /// Sends a request without a body and returns the response's head and its body as it arrives. The connection
    /// is closed when the body ends or its consumer stops iterating; `timeout` bounds the whole exchange, body
    /// included. Errors as for `execute`; a body cut short ends with `ClientError.transport` or the parser's error.
    func stream(
        _ method: String, _ target: String, headers: [(String, String)], timeout: Duration
    ) async throws -> HTTPExchangeHandler.StreamedResponse {
        let request = try encode(method, target, headers: headers, body: nil)
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        return try await send(method, target) { connection in
            try await self.exchange(on: connection) { handler, promise in
                handler.startStreaming(request, deadline: deadline, promise: promise)
            }
        }
    }

    /// Runs `attempt` on a connection, once more on a new one when a reused connection was found closed before
    /// any byte of the answer (not for a POST), and names the request in any error.
    private func send<T>(
        _ method: String, _ target: String, _ attempt: (Connection) async throws -> T
    ) async throws -> T {
        var retried = false
        while true {
            var reused = false
            do {
                let connection: Connection
                (connection, reused) = try await acquire()
                return try await attempt(connection)
            } catch let lost as HTTPExchangeHandler.ConnectionLost {
                try Task.checkCancellation()
                guard reused, !retried, !lost.responseStarted, method != "POST" else {
                    throw ClientError.transport("\(method) \(Self.pathOnly(target)): \(lost)")
                }
                retried = true
            } catch ClientError.transport(let message) {
                try Task.checkCancellation()
                throw ClientError.transport("\(method) \(Self.pathOnly(target)): \(message)")
            } catch {
                try Task.checkCancellation()
                throw ClientError.transport("\(method) \(Self.pathOnly(target)): \(error)")
            }
        }
    }

    /// Starts an exchange on the connection's event loop and waits for what completes `promise`; cancelling the
    /// calling task closes the connection.
    private func exchange<T: Sendable>(
        on connection: Connection,
        _ start: @escaping @Sendable (HTTPExchangeHandler, EventLoopPromise<T>) -> Void
    ) async throws -> T {
        let loop = connection.channel.eventLoop
        let promise = loop.makePromise(of: T.self)
        let handler = connection.handler
        return try await withTaskCancellationHandler {
            loop.execute { start(handler.value, promise) }
            return try await promise.futureResult.get()
        } onCancel: {
            connection.channel.close(promise: nil)
        }
    }

    // MARK: Connections

    private func acquire() async throws -> (Connection, reused: Bool) {
        while true {
            let candidate: Connection? = try pool.withLock { pool in
                guard !pool.closed else { throw ClientError.transport("client is shut down") }
                return pool.idle.popLast()
            }
            guard let candidate else { break }
            if candidate.channel.isActive { return (candidate, true) }
        }
        return (try await connect(), false)
    }

    private func release(_ connection: Connection, reusable: Bool) {
        let keep =
            reusable && connection.channel.isActive
            && pool.withLock { pool in
                guard !pool.closed, pool.idle.count < Self.maximumIdle else { return false }
                pool.idle.append(connection)
                return true
            }
        if !keep { connection.channel.close(promise: nil) }
    }

    private func connect() async throws -> Connection {
        /// The handler, handed out by the channel initializer: looked up afterwards, it may already be gone with
        /// its channel (a TLS handshake can fail in between).
        struct Attached: Sendable {
            let handler: NIOLoopBound<HTTPExchangeHandler>
            let ready: EventLoopFuture<Void>
        }
        let attached = group.any().makePromise(of: Attached.self)
        let sslContext = sslContext
        let serverName = endpoint.serverName
        let maximumBodyBytes = maximumBodyBytes
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(Self.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    let handler = HTTPExchangeHandler(
                        maximumBodyBytes: maximumBodyBytes, idleTimeout: Self.idleTimeout, tls: sslContext != nil)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    attached.succeed(
                        Attached(handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), ready: handler.ready))
                }
            }
        do {
            let channel: any Channel
            do {
                channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
            } catch {
                attached.fail(error)
                throw error
            }
            let connection = try await attached.futureResult.get()
            let id = ObjectIdentifier(channel)
            let admitted = pool.withLock { pool in
                if !pool.closed { pool.open[id] = channel }
                return !pool.closed
            }
            channel.closeFuture.whenComplete { [self] _ in _ = pool.withLock { $0.open.removeValue(forKey: id) } }
            do {
                guard admitted else { throw ClientError.transport("client is shut down") }
                try await connection.ready.get()
            } catch {
                channel.close(promise: nil)
                throw error
            }
            return Connection(channel: channel, handler: connection.handler)
        } catch {
            throw ClientError.transport("cannot connect to \(endpoint.authority): \(Self.reason(error))")
        }
    }

    /// Why a connection could not be made, in a few words: the system's message for a refused or unreachable
    /// address (NIO's own description of a failed connect lists each address tried with the whole socket error).
    private static func reason(_ error: any Error) -> String {
        guard let failure = error as? NIOConnectionError else { return "\(error)" }
        if let lookup = failure.dnsAError ?? failure.dnsAAAAError { return "cannot resolve the host: \(lookup)" }
        let reasons = failure.connectionErrors.map { attempt -> (address: String, message: String) in
            let message = (attempt.error as? IOError).map { String(cString: strerror($0.errnoCode)) }
            return (attempt.target.ipAddress ?? "\(attempt.target)", message ?? "\(attempt.error)")
        }
        switch reasons.count {
        case 0: return "\(error)"
        case 1: return reasons[0].message
        default: return reasons.map { "\($0.address): \($0.message)" }.joined(separator: "; ")
        }
    }

    // MARK: Encoding

    /// The whole request in one buffer: request line, `Host`, the given headers, `Content-Length`, body.
    /// - Throws: `ClientError.transport` when the method, target or a header would break the request's framing.
    private func encode(
        _ method: String, _ target: String, headers: [(String, String)], body: [UInt8]?
    ) throws -> ByteBuffer {
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
            target.utf8.first == UInt8(ascii: "/"), target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw ClientError.transport("invalid request line: method or target holds spaces or control bytes") }
        for (name, value) in headers where value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
            throw ClientError.transport("invalid value for header \(name): it holds a line break")
        }
        var size = method.utf8.count + target.utf8.count + endpoint.authority.utf8.count + 64 + (body?.count ?? 0)
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        buffer.writeString(method)
        buffer.writeStaticString(" ")
        buffer.writeString(target)
        buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
        buffer.writeString(endpoint.authority)
        buffer.writeStaticString("\r\n")
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if let body {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeString(String(body.count))
            buffer.writeStaticString("\r\n\r\n")
            buffer.writeBytes(body)
        } else if method == "POST" || method == "PUT" || method == "PATCH" {
            buffer.writeStaticString("Content-Length: 0\r\n\r\n")
        } else {
            buffer.writeStaticString("\r\n")
        }
        return buffer
    }

    /// The path of a request target without its query, for error messages.
    private static func pathOnly(_ target: String) -> Substring {
        target.prefix { $0 != "?" }
    }
}
