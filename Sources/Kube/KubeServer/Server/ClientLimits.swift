/// What one client — one remote address — may hold on the API server at once, and how long a connection may stay
/// silent. kube-apiserver bounds the same things by time (a request head within 32 s, idle connections closed after
/// 90 s) and by priority and fairness; Pylon adds plain per-address counts, which a single process serving a small
/// cluster can afford to keep exactly.
public struct ClientLimits: Sendable, Equatable {
    /// Open connections from one address; one more is closed at once (logged, counted).
    public var connectionsPerClient: Int
    /// Watches streaming to one address at once; one more is a 429 `TooManyRequests` with `Retry-After`.
    public var watchesPerClient: Int
    /// How long a new connection may take to complete its TLS handshake before it is closed.
    public var handshakeTimeout: Duration
    /// How long a connection may sit without a request in progress (and a request head may take to arrive).
    public var idleTimeout: Duration

    public init(
        connectionsPerClient: Int = 512, watchesPerClient: Int = 256, handshakeTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(90)
    ) {
        self.connectionsPerClient = connectionsPerClient
        self.watchesPerClient = watchesPerClient
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
    }
}
