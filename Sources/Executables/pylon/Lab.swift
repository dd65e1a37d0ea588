import ArgumentParser
import FoundationEssentials
import Glibc
import LabRuntime

/// `pylon lab`: the load balancer on a virtual LAN in network namespaces, on one machine.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Run the whole load balancer on a virtual bare-metal LAN in network namespaces (root).",
        subcommands: [
            LabUpCommand.self, LabStatusCommand.self, LabExecCommand.self, LabFailoverCommand.self,
            LabDownCommand.self, LabAgentCommand.self, LabProbeCommand.self, LabPodCommand.self,
            LabControlCommand.self,
        ])
}

/// The flag every lab subcommand shares.
struct LabDirectoryOption: ParsableArguments {
    @Option(help: "Directory of the lab's state, server data and logs.")
    var directory = LabCluster.defaultDirectory
}

/// Prints a line at once, unbuffered (output may be a pipe that a test or script reads while the lab runs).
@Sendable func say(_ line: String) {
    var bytes = Array((line + "\n").utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
