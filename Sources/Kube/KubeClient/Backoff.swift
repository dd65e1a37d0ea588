/// Jittered exponential backoff for retry loops: `initial` doubling up to `maximum`, each delay scaled by a random
/// factor in [0.5, 1.0) so that many clients retrying at once spread out.
///
/// A plain value; `reset()` after a success.
public struct Backoff: Sendable {
    private let initial: Duration
    private let maximum: Duration
    private var attempt = 0

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt.
    public mutating func next() -> Duration {
        let base = min(maximum, initial * (1 << min(attempt, 20)))
        attempt += 1
        return base * Double.random(in: 0.5..<1.0)
    }

    public mutating func reset() { attempt = 0 }
}
