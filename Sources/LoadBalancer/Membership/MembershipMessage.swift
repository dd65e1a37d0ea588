/// What speakers say to each other (SWIM: direct probe, acknowledgement, indirect probe, graceful leave), each
/// message carrying membership updates as gossip.
public enum MembershipMessage: Sendable, Equatable {
    case ping(sequence: UInt32, updates: [MemberUpdate])
    case ack(sequence: UInt32, updates: [MemberUpdate])
    /// Asks the receiver to probe `target` at `address` and relay the acknowledgement.
    case pingRequest(sequence: UInt32, target: String, address: String, updates: [MemberUpdate])
    /// The sender stops announcing and leaves now (SIGTERM).
    case leave(incarnation: UInt64)
    /// Updates sent straight to every member (suspicions, deaths, refutations).
    case gossip(updates: [MemberUpdate])

    var updates: [MemberUpdate] {
        switch self {
        case .ping(_, let u), .ack(_, let u), .pingRequest(_, _, _, let u), .gossip(let u): return u
        case .leave: return []
        }
    }
}

/// One fact about one member, spread by gossip.
public struct MemberUpdate: Sendable, Equatable {
    public enum State: UInt8, Sendable {
        case alive = 0
        case suspect = 1
        case dead = 2
        case left = 3
    }

    public var name: String
    /// `host:port` of its membership socket.
    public var address: String
    public var incarnation: UInt64
    public var state: State

    public init(name: String, address: String, incarnation: UInt64, state: State) {
        self.name = name
        self.address = address
        self.incarnation = incarnation
        self.state = state
    }
}
