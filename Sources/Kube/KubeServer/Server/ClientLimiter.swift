import Synchronization

/// One `ClientTable` shared by every connection and watch of a server.
///
/// Thread-safe (a `Mutex` guards the table); every call is short and never suspends.
public final class ClientLimiter: Sendable {
    public let limits: ClientLimits
    private let table: Mutex<ClientTable>

    public init(limits: ClientLimits) {
        self.limits = limits
        self.table = Mutex(ClientTable(limits: limits))
    }

    /// Takes one `holding` for `client`; `false` when the client is at its limit.
    func acquire(_ holding: ClientTable.Holding, for client: String) -> Bool {
        table.withLock { $0.acquire(holding, for: client) }
    }

    func release(_ holding: ClientTable.Holding, for client: String) {
        table.withLock { $0.release(holding, for: client) }
    }

    func count(_ holding: ClientTable.Holding, for client: String) -> Int {
        table.withLock { $0.count(holding, for: client) }
    }
}
