import ArgumentParser
import KubeClient
import LabRuntime

/// `pylon lab control` (internal): the lab's stand-in for kube-scheduler.
struct LabControlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control", abstract: "The lab's scheduler (started by lab up).",
        shouldDisplay: false)

    @OptionGroup var client: ClientOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = log.logger("pylon.lab.control")
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        try await Daemon.run([LabScheduler(client: kube, logger: logger)], client: kube, logger: logger)
    }
}
