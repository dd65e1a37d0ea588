import KubeAPI
import Processes

/// Runs a CNI plugin the way a container runtime does (root only): in the network namespace of a node (so the
/// plugin's "host" is a namespace the test made), with `CNI_*` in the environment and the configuration on standard
/// input.
public struct CNIInvoker: Sendable {
    /// The reference plugins of Debian's `containernetworking-plugins`.
    public static let referenceDirectory = "/usr/lib/cni"

    /// What the plugin answered.
    public struct Answer: Sendable {
        public let status: Int32
        public let output: String
        public let standardError: String

        /// The answer as JSON (nil when empty or not JSON).
        public var json: JSON? { try? JSONParser.parse(output) }
        /// The error code of an error answer.
        public var code: Int64? { json?["code"]?.intValue }
        public var message: String { json?["msg"]?.stringValue ?? "" }
    }

    /// The plugin executable.
    public let plugin: String
    /// The namespace the plugin runs in.
    public let node: String

    public init(plugin: String, node: String) {
        self.plugin = plugin
        self.node = node
    }

    /// Runs `command` for the attachment (`netns` is a path; nil leaves CNI_NETNS out).
    /// - Throws: when the plugin cannot be started.
    public func run(
        _ command: String, container: String = "", netns: String? = nil, interface: String = "eth0",
        config: String, environment extra: [String: String] = [:], wrapper: [String] = []
    ) async throws -> Answer {
        var environment = ["CNI_COMMAND": command, "CNI_PATH": Self.referenceDirectory]
        if !container.isEmpty { environment["CNI_CONTAINERID"] = container }
        if let netns { environment["CNI_NETNS"] = netns }
        if !interface.isEmpty { environment["CNI_IFNAME"] = interface }
        environment.merge(extra) { $1 }
        let result = try await ChildProcess.run(
            "/usr/sbin/ip", ["netns", "exec", node] + wrapper + [plugin], environment: environment, input: config)
        return Answer(
            status: result.status, output: result.standardOutput, standardError: result.standardError)
    }
}
