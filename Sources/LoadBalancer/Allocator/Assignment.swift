import NetCore

/// The addresses a Service holds and the pool they came from.
public struct Assignment: Sendable, Equatable {
    public var pool: String
    /// Primary family first.
    public var ips: [IPAddress]

    public init(pool: String, ips: [IPAddress]) {
        self.pool = pool
        self.ips = ips
    }
}
