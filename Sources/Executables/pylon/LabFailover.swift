import ArgumentParser
import FoundationEssentials
import Glibc
import LabRuntime

/// `pylon lab failover`: takes the announcing node out and shows what the client saw.
struct LabFailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Kill the announcing node's speaker (or down its link) and show the client's outage.")

    @OptionGroup var lab: LabDirectoryOption

    @Option(help: "The LoadBalancer Service, NAMESPACE/NAME.")
    var service = "default/demo"

    @Option(help: "kill (SIGKILL of the speaker) or link-down (the node's LAN link goes down).")
    var mode = LabCluster.FailoverMode.kill

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output = LabStatusCommand.Format.text

    func run() async throws {
        guard geteuid() == 0 else { throw ValidationError("the lab needs root: use sudo") }
        let quiet = output == .json
        let progress: @Sendable (String) -> Void = { line in if !quiet { say(line) } }
        let result = try await LabCluster(say: progress).failover(
            directory: lab.directory, service: service, mode: mode)
        if output == .json {
            try JSONOutput.print(result)
            return
        }
        let seen = result.client
        say("\(result.to) took over \(result.address) from \(result.from)")
        say(
            seen.failedProbes == 0
                ? "client: no request failed"
                : "client: outage \(seen.outageMilliseconds) ms (\(seen.failedProbes) failed requests)")
        if let switched = seen.switchMilliseconds {
            say(
                "client: answers came from \(seen.answeredAfter ?? "?") instead of \(seen.answeredBefore ?? "?") after \(switched) ms"
            )
        }
    }
}

extension LabCluster.FailoverMode: ExpressibleByArgument {}
