import Synchronization

/// A token bucket: at most `burst` requests at once, refilled at `qps` per second (client-go's default limiter).
///
/// Thread-safe; `acquire` suspends (without blocking a thread) until a token is available.
public final class RateLimiter: Sendable {
    private struct State {
        var tokens: Double
        var last: ContinuousClock.Instant
    }

    public let qps: Double
    public let burst: Int
    private let state: Mutex<State>

    public init(qps: Double, burst: Int) {
        self.qps = qps
        self.burst = max(1, burst)
        self.state = Mutex(State(tokens: Double(max(1, burst)), last: .now))
    }

    /// Waits for a token. A non-positive `qps` disables limiting.
    public func acquire() async throws {
        guard qps > 0 else { return }
        let wait: Duration = state.withLock { s in
            let now = ContinuousClock.now
            let elapsed = s.last.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            s.tokens = min(Double(burst), s.tokens + seconds * qps)
            s.last = now
            s.tokens -= 1
            if s.tokens >= 0 { return .zero }
            return .nanoseconds(Int64(-s.tokens / qps * 1e9))
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
