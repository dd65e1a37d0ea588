import ArgumentParser
import FoundationEssentials
import KubeClient
import LabRuntime

/// `pylon lab agent` (internal): a lab node's kubelet stand-in; `pylon lab up` starts it.
struct LabAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "A lab node's kubelet stand-in (started by lab up).",
        shouldDisplay: false)

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("node-name"), help: "This node's name.")
    var node: String

    @Option(name: .customLong("cni-conf-dir"), help: "The node's CNI configuration (what pylon overlay writes).")
    var cniConfDir = "/etc/cni/net.d"

    @Option(name: .customLong("cni-bin-dir"), help: "CNI plugins (default: the directory of this executable).")
    var cniBinDir: String?

    @Option(name: .customLong("pod-log-dir"), help: "Where each container's output goes.")
    var podLogDir: String

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = log.logger("pylon.lab.agent")
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let options = LabKubelet.Options(
            node: node, binary: binary, cniConfigDirectory: cniConfDir,
            cniPluginDirectory: cniBinDir ?? String(binary[..<(binary.lastIndex(of: "/") ?? binary.startIndex)]),
            logDirectory: podLogDir)
        try await Daemon.run([LabKubelet(client: kube, options: options, logger: logger)], client: kube, logger: logger)
    }
}
