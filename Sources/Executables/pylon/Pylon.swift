import ArgumentParser

/// The `pylon` command: one binary, one subcommand per component.
@main
struct Pylon: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "pylon",
        abstract: "Networking for bare-metal Kubernetes: load balancer, and an embedded API server for labs and tests.",
        version: version,
        subcommands: [Server.self, ControllerCommand.self, SpeakerCommand.self, LabCommand.self, ExplainCommand.self]
    )
}
