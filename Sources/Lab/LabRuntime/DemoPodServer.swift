import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What every container of a lab Pod runs (images are not pulled): an HTTP server on each of its TCP ports, on
/// all addresses of the Pod, answering every request with the name of the node the Pod runs on, and the address
/// the connection came from in an `X-Client-Address` header (where a proxy kept or replaced the client's source).
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown (SIGTERM from the node agent when the Pod is
/// deleted) and throws when a port cannot be bound.
public struct DemoPodServer: Service, Sendable {
    let node: String
    let ports: [Int]
    let logger: Logger

    public init(node: String, ports: [Int], logger: Logger) {
        self.node = node
        self.ports = ports
        self.logger = logger
    }

    public func run() async throws {
        let body = "\(node)\n"
        try await withThrowingDiscardingTaskGroup { group in
            for port in ports {
                // Both families where the Pod has IPv6, IPv4 alone where it has none.
                let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
                do {
                    server = try await Self.listen(host: "::", port: port)
                } catch {
                    server = try await Self.listen(host: "0.0.0.0", port: port)
                }
                logger.info("demo server listening on port \(port)")
                group.addTask {
                    do {
                        try await Self.serve(server, body: body)
                    } catch {
                        if !Task.isCancelled { logger.error("demo server on port \(port) stopped: \(error)") }
                    }
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    private static func listen(host: String, port: Int) async throws
        -> NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private static func serve(
        _ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, body: String
    ) async throws {
        try await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in inbound {
                    let client = connection.channel.remoteAddress?.ipAddress ?? "unknown"
                    let response =
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                        + "X-Client-Address: \(client)\r\nConnection: close\r\n\r\n\(body)"
                    group.addTask {
                        try? await connection.executeThenClose { input, output in
                            // Answer once the request head is complete (at most 16 KiB is read).
                            var head = ByteBuffer()
                            for try await chunk in input {
                                head.writeImmutableBuffer(chunk)
                                if head.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) != nil
                                    || head.readableBytes > 16_384
                                {
                                    break
                                }
                            }
                            try await output.write(ByteBuffer(string: response))
                        }
                    }
                }
            }
        }
    }
}
