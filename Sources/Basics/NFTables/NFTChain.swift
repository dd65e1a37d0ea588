/// A chain of an nftables table: a base chain hooked into the packet path (with its type, hook and priority) or a
/// regular chain that rules jump to.
///
/// Pure value.
public struct NFTChain: Sendable, Equatable {
    /// Where a base chain sees packets (`NF_INET_*`).
    public enum Hook: UInt32, Sendable {
        case prerouting = 0
        case input = 1
        case forward = 2
        case output = 3
        case postrouting = 4
    }

    /// A base chain's type, hook and priority (`type nat hook prerouting priority -100`).
    public struct BaseSettings: Sendable, Equatable {
        public var type: String
        public var hook: Hook
        public var priority: Int32

        public init(type: String, hook: Hook, priority: Int32) {
            self.type = type
            self.hook = hook
            self.priority = priority
        }
    }

    public var name: String
    /// nil for a regular chain.
    public var base: BaseSettings?

    public init(name: String, base: BaseSettings? = nil) {
        self.name = name
        self.base = base
    }
}
