import ArgumentParser
import FoundationEssentials
import Glibc
import LabRuntime

/// `pylon lab exec HOST -- CMD`: runs a command inside a lab host; its exit status is the command's.
struct LabExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside a lab host (a node name or client).")

    @OptionGroup var lab: LabDirectoryOption

    @Argument(help: "The host: node-1, node-2, …, or client.")
    var host: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("give a command to run, e.g. -- ip addr") }
        guard geteuid() == 0 else { throw ValidationError("entering the lab's namespaces needs root: use sudo") }
        guard let state = try LabState.load(directory: lab.directory) else {
            throw ValidationError("no lab is running (start one with `pylon lab up`)")
        }
        guard state.hosts.contains(host) else {
            throw ValidationError("no host \(host) in the lab; hosts are \(state.hosts.joined(separator: ", "))")
        }
        let arguments = ["ip", "netns", "exec", "\(state.prefix)-\(host)"] + argv
        let cArguments = arguments.map { strdup($0) } + [nil]
        execv("/usr/sbin/ip", cArguments)
        throw ValidationError("cannot run ip netns exec: \(String(cString: strerror(errno)))")
    }
}
