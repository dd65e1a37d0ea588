import ArgumentParser
import FoundationEssentials
import Glibc
import LabRuntime

/// `pylon lab down`: removes a lab, including what a crashed one left behind.
struct LabDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Remove the lab: its processes, namespaces, links and files.")

    @OptionGroup var lab: LabDirectoryOption

    func run() async throws {
        guard geteuid() == 0 else { throw ValidationError("removing the lab's namespaces needs root: use sudo") }
        await LabCluster(say: say).down(directory: lab.directory)
    }
}
