/// Who holds what on the server: open connections and running watches per remote address, within `ClientLimits`.
/// A value with no I/O; `ClientLimiter` shares one between connections.
struct ClientTable: Sendable {
    enum Holding: Sendable {
        case connection, watch
    }

    private struct Counts {
        var connections = 0
        var watches = 0
    }

    let limits: ClientLimits
    private var clients: [String: Counts] = [:]

    init(limits: ClientLimits) { self.limits = limits }

    /// Takes one `holding` for `client`: `false` (and nothing taken) when the client is at its limit.
    mutating func acquire(_ holding: Holding, for client: String) -> Bool {
        var counts = clients[client] ?? Counts()
        switch holding {
        case .connection:
            guard counts.connections < limits.connectionsPerClient else { return false }
            counts.connections += 1
        case .watch:
            guard counts.watches < limits.watchesPerClient else { return false }
            counts.watches += 1
        }
        clients[client] = counts
        return true
    }

    /// Gives back one `holding` taken by `acquire`; a client holding nothing is forgotten.
    mutating func release(_ holding: Holding, for client: String) {
        guard var counts = clients[client] else { return }
        switch holding {
        case .connection: counts.connections = max(0, counts.connections - 1)
        case .watch: counts.watches = max(0, counts.watches - 1)
        }
        clients[client] = counts.connections == 0 && counts.watches == 0 ? nil : counts
    }

    /// What `client` holds now.
    func count(_ holding: Holding, for client: String) -> Int {
        switch holding {
        case .connection: clients[client]?.connections ?? 0
        case .watch: clients[client]?.watches ?? 0
        }
    }

    /// How many addresses hold anything.
    var clientCount: Int { clients.count }
}
