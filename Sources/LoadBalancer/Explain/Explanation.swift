/// Why a LoadBalancer Service has, or lacks, a working external address: what `pylon explain service` prints.
public struct Explanation: Sendable, Codable, Equatable {
    /// One finding, in the order a user would check things.
    public struct Finding: Sendable, Codable, Equatable {
        public enum Level: String, Sendable, Codable {
            /// As it should be.
            case ok
            /// Context, neither good nor bad.
            case info
            /// Prevents the Service from getting or announcing its address.
            case problem
        }

        /// `class`, `configuration`, `pools`, `address`, `events`, `layer2`, `nodes` or `bgp`.
        public var topic: String
        public var level: Level
        public var text: String

        public init(_ topic: String, _ level: Level, _ text: String) {
            self.topic = topic
            self.level = level
            self.text = text
        }
    }

    /// One pool, and whether it would give this Service an address.
    public struct Pool: Sendable, Codable, Equatable {
        public var name: String
        public var admits: Bool
        /// Why not, or how full it is.
        public var detail: String

        public init(name: String, admits: Bool, detail: String) {
            self.name = name
            self.admits = admits
            self.detail = detail
        }
    }

    /// One node, and whether it may announce this Service in Layer 2 mode.
    public struct Node: Sendable, Codable, Equatable {
        public var name: String
        public var candidate: Bool
        /// Why not (empty for a candidate).
        public var reason: String

        public init(name: String, candidate: Bool, reason: String) {
            self.name = name
            self.candidate = candidate
            self.reason = reason
        }
    }

    /// One BGP peer the addresses go to, and the nodes announcing them to it.
    public struct BGPAnnouncement: Sendable, Codable, Equatable {
        public var peer: String
        public var nodes: [String]

        public init(peer: String, nodes: [String]) {
            self.peer = peer
            self.nodes = nodes
        }
    }

    public var service: String
    /// One line: the answer to "why is it pending / why does nobody answer?", or that all is well.
    public var summary: String
    public var healthy: Bool
    public var addresses: [String]
    public var pool: String?
    /// The node announcing the addresses (its ServiceL2Status), its interfaces and their MAC addresses.
    public var announcedBy: String?
    public var interfaces: [String]
    public var macs: [String: String]
    public var pools: [Pool]
    public var nodes: [Node]
    /// BGP peers the addresses are announced to (by the speakers' rules; empty without BGPPeers).
    public var bgp: [BGPAnnouncement]
    public var findings: [Finding]
}
