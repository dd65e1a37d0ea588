import ArgumentParser
import CNIPlugin
import Glibc

/// The `pylon` command: one binary, one subcommand per component.
@main
struct Pylon: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "pylon",
        abstract: "Networking for bare-metal Kubernetes: load balancer, and an embedded API server for labs and tests.",
        version: version,
        subcommands: [
            Server.self, ControllerCommand.self, SpeakerCommand.self, OverlayCommand.self, ProxyCommand.self,
            LabCommand.self,
            ExplainCommand.self,
        ]
    )

    /// A container runtime runs the binary as a CNI plugin (installed or linked as `/opt/cni/bin/pylon`), with
    /// `CNI_COMMAND` in the environment; otherwise it is the `pylon` command.
    static func main() async {
        if getenv("CNI_COMMAND") != nil { Glibc.exit(CNIPlugin.runProcess()) }
        await main(nil)
    }
}
