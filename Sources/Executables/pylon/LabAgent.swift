import ArgumentParser
import KubeClient
import LabRuntime

/// `pylon lab agent` (internal): a lab node's demo backend and kube-proxy stand-in; `pylon lab up` starts it.
struct LabAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "A lab node's demo backend and kube-proxy stand-in (started by lab up).",
        shouldDisplay: false)

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("node-name"), help: "This node's name.")
    var node: String

    @Option(name: .customLong("pod-address"), help: "The demo backend's address (on this node).")
    var podAddress: String

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = log.logger("pylon.lab.agent")
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let agent = LabAgent(client: kube, node: node, podAddress: podAddress, logger: logger)
        try await Daemon.run([agent], client: kube, logger: logger)
    }
}
