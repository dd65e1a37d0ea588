import FoundationEssentials
import KubeAPI
import NIOCore
import NIOPosix

/// The lab client's view of a Service: HTTP GETs to `http://address:port/`, each on a new connection, as a user's
/// browser would make them.
///
/// Isolation: async, no shared state. Failures are values (`Outcome.failed` with the reason), never thrown.
public enum HTTPProbe {
    public enum Outcome: Sendable, Equatable {
        /// The response body, trimmed (the demo backend's node name).
        case answered(String)
        case failed(String)
    }

    /// One request with an overall deadline of `timeout`.
    public static func get(host: String, port: Int, timeout: Duration) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await request(host: host, port: port, connectTimeout: timeout) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failed("timeout")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failed("cancelled")
        }
    }

    /// Probes every `interval` (one at a time, each with `timeout`) for `duration` or `count` probes, whichever
    /// ends first, and reports each as a line `<milliseconds since start> ok <body>` or
    /// `<milliseconds since start> fail <reason>`.
    public static func stream(
        host: String, port: Int, interval: Duration, timeout: Duration, duration: Duration, count: Int,
        report: (String) -> Void
    ) async {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            let sent = clock.now
            guard sent - start < duration else { return }
            let outcome = await get(host: host, port: port, timeout: timeout)
            let milliseconds = (sent - start) / .milliseconds(1)
            switch outcome {
            case .answered(let body): report("\(Int(milliseconds)) ok \(body)")
            case .failed(let reason): report("\(Int(milliseconds)) fail \(reason)")
            }
            let next = sent + interval
            if clock.now < next { try? await Task.sleep(until: next, clock: clock) }
        }
    }

    /// The request; NIO's connect does not end on task cancellation, so it gets the deadline itself.
    private static func request(host: String, port: Int, connectTimeout: Duration) async -> Outcome {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.nanoseconds(Int64(connectTimeout / .nanoseconds(1))))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let authority = host.contains(":") ? "[\(host)]" : host
            let response = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(string: "GET / HTTP/1.1\r\nHost: \(authority)\r\nConnection: close\r\n\r\n"))
                var response = ByteBuffer()
                for try await chunk in inbound where response.readableBytes < 65_536 {
                    response.writeImmutableBuffer(chunk)
                }
                return String(buffer: response)
            }
            guard response.hasPrefix("HTTP/1.1 200") || response.hasPrefix("HTTP/1.0 200"),
                let split = response.firstRange(of: "\r\n\r\n")
            else { return .failed("bad response: \(response.prefix(40))") }
            return .answered(response[split.upperBound...].trimmed())
        } catch {
            return .failed("\(error)".replacing("\n", with: " "))
        }
    }
}
