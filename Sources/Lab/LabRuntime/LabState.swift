import FoundationEssentials
import Glibc

/// What a running lab consists of, kept in `<directory>/state.json` (mode 0600) so that `pylon lab status`,
/// `exec`, `failover` and `down` can find it from another process.
public struct LabState: Codable, Sendable, Equatable {
    /// One daemon of the lab.
    public struct Daemon: Codable, Sendable, Equatable {
        /// `server`, `controller`, `speaker` or `agent`.
        public var role: String
        /// The lab host it runs in (`host` for the machine's own namespace).
        public var host: String
        public var pid: Int32
        public var log: String
        public var argv: [String]

        public init(role: String, host: String, pid: Int32, log: String, argv: [String]) {
            self.role = role
            self.host = host
            self.pid = pid
            self.log = log
            self.argv = argv
        }
    }

    /// Namespace prefix (`pylab`): hosts live in `<prefix>-<host>`.
    public var prefix: String
    public var nodes: [String]
    public var ipv6: Bool
    /// A `router` host runs BIRD, peering with every node (`pylon lab up --bgp`).
    public var bgp: Bool?
    public var directory: String
    public var kubeconfig: String
    /// The `pylon` executable the daemons run.
    public var binary: String
    public var daemons: [Daemon]

    /// Every host a command can run in: the nodes and the client.
    public var hosts: [String] { nodes + ["client"] + (bgp == true ? ["router"] : []) }

    public init(
        prefix: String, nodes: [String], ipv6: Bool, directory: String, kubeconfig: String, binary: String,
        daemons: [Daemon] = []
    ) {
        self.prefix = prefix
        self.nodes = nodes
        self.ipv6 = ipv6
        self.directory = directory
        self.kubeconfig = kubeconfig
        self.binary = binary
        self.daemons = daemons
    }

    static func file(in directory: String) -> String { directory + "/state.json" }

    /// Reads the state of the lab in `directory`; nil when there is none.
    /// - Throws: when the file exists but cannot be read as a lab state.
    public static func load(directory: String) throws -> LabState? {
        guard let data = FileManager.default.contents(atPath: file(in: directory)) else { return nil }
        return try JSONDecoder().decode(LabState.self, from: data)
    }

    /// Writes the state atomically with mode 0600.
    public func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = Self.file(in: directory)
        let temporary = path + ".tmp"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: try encoder.encode(self),
                attributes: [.posixPermissions: 0o600])
        else { throw LabCluster.Failure("cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else {
            throw LabCluster.Failure("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }
}
