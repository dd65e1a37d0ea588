import ArgumentParser
import LabRuntime

/// `pylon lab pod` (internal): what a lab Pod's container runs — the demo HTTP server on its ports.
struct LabPodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod", abstract: "A lab container: answer HTTP on its ports with the node's name.",
        shouldDisplay: false)

    @Option(name: .customLong("node-name"), help: "The node the Pod runs on (the answer's body).")
    var node: String

    @Option(help: "A TCP port to answer on (repeatable; none: the container only runs).")
    var port: [Int] = []

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard port.allSatisfy({ (1...65_535).contains($0) }) else { throw ValidationError("ports are 1-65535") }
    }

    func run() async throws {
        let logger = log.logger("pylon.lab.pod")
        try await Daemon.run([DemoPodServer(node: node, ports: port, logger: logger)], logger: logger)
    }
}
