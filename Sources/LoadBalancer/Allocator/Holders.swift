/// The Services holding one address. Almost always exactly one, so that case is stored inline: with 10,000
/// assigned Services a set per address would cost the controller about a megabyte of small allocations.
struct Holders: Sendable {
    private enum Storage: Sendable {
        case one(String)
        case many(Set<String>)
    }

    private var storage: Storage

    init(_ key: String) { storage = .one(key) }

    /// The holders' keys, sorted.
    var sorted: [String] {
        switch storage {
        case .one(let key): [key]
        case .many(let keys): keys.sorted()
        }
    }

    func contains(where predicate: (String) -> Bool) -> Bool {
        switch storage {
        case .one(let key): predicate(key)
        case .many(let keys): keys.contains(where: predicate)
        }
    }

    mutating func insert(_ key: String) {
        switch storage {
        case .one(let held) where held == key: return
        case .one(let held): storage = .many([held, key])
        case .many(var keys):
            keys.insert(key)
            storage = .many(keys)
        }
    }

    /// Removes `key` if it is a holder.
    /// - Returns: whether holders remain.
    mutating func remove(_ key: String) -> Bool {
        switch storage {
        case .one(let held):
            return held != key
        case .many(var keys):
            keys.remove(key)
            if keys.count == 1, let last = keys.first {
                storage = .one(last)
            } else {
                storage = .many(keys)
            }
            return !keys.isEmpty
        }
    }
}
