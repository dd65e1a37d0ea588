import Synchronization

/// Hands out Service node ports from 30000-32767, never the same (port, protocol) twice.
///
/// Thread-safe.
final class NodePortAllocator: Sendable {
    let range: ClosedRange<Int>
    private let used: Mutex<Set<String>>

    init(range: ClosedRange<Int>) {
        self.range = range
        self.used = Mutex([])
    }

    /// Reserves a specific port; an error message when it is outside the range or taken.
    func reserve(_ port: Int, protocol proto: String) -> String? {
        guard range.contains(port) else {
            return
                "provided port is not in the valid range. The range of valid ports is \(range.lowerBound)-\(range.upperBound)"
        }
        return used.withLock { u in
            if u.contains("\(port)/\(proto)") { return "provided port is already allocated" }
            u.insert("\(port)/\(proto)")
            return nil
        }
    }

    func markUsed(_ port: Int, protocol proto: String) {
        _ = used.withLock { $0.insert("\(port)/\(proto)") }
    }

    /// Reserves a free port starting from a random point.
    func allocate(protocol proto: String) -> Int? {
        var rng = SystemRandomNumberGenerator()
        let count = range.count
        let start = Int.random(in: 0..<count, using: &rng)
        return used.withLock { u -> Int? in
            for i in 0..<count {
                let port = range.lowerBound + (start + i) % count
                if !u.contains("\(port)/\(proto)") {
                    u.insert("\(port)/\(proto)")
                    return port
                }
            }
            return nil
        }
    }

    func release(_ port: Int, protocol proto: String) {
        _ = used.withLock { $0.remove("\(port)/\(proto)") }
    }
}
