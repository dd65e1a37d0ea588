import ArgumentParser
import FoundationEssentials
import LabRuntime
import UnixSignals

/// `pylon lab up`: builds the lab, tells the demo's story, and keeps it up until Ctrl-C (or returns with
/// `--detach`).
struct LabUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start a lab: three nodes, a client, the API server, controller and speakers.")

    @OptionGroup var lab: LabDirectoryOption

    @Option(help: "Number of nodes (1-9).")
    var nodes = 3

    @Flag(inversion: .prefixedNo, help: "Give the pool and the demo Service IPv6 addresses too.")
    var ipv6 = true

    @Flag(help: "Add a host named router running BIRD that peers with every node in BGP (needs bird2).")
    var bgp = false

    @Flag(help: "Return once the lab is ready and leave it running (`pylon lab down` removes it).")
    var detach = false

    @Option(help: "Directory of metallb.io CRDs to apply instead of the ones built into pylon (deploy/crds).")
    var crds: String?

    func run() async throws {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var options = LabCluster.Options(binary: binary)
        options.nodes = nodes
        options.ipv6 = ipv6
        options.directory = lab.directory
        options.crds = crds
        options.bgp = bgp
        let cluster = LabCluster(say: say)
        if detach {
            let state = try await cluster.up(options)
            printReady(state, detached: true)
            return
        }
        // Ctrl-C or SIGTERM: while setting up, abandon the set-up (which removes what it built); once up, remove
        // the lab.
        let setUp = Task { try await cluster.up(options) }
        let interrupt = Task {
            for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) {
                setUp.cancel()
                break
            }
        }
        let state: LabState
        do {
            state = try await setUp.value
        } catch {
            interrupt.cancel()
            throw error
        }
        interrupt.cancel()
        printReady(state, detached: false)
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        say("stopping the lab")
        await cluster.down(directory: lab.directory)
    }

    private func printReady(_ state: LabState, detached: Bool) {
        let me = CommandLine.arguments[0]
        say(
            """

            The lab is ready. Try:
              export KUBECONFIG=\(state.kubeconfig)
              kubectl get services --all-namespaces
              \(me) lab exec client -- curl -s http://192.0.2.100/
              \(me) lab failover
              \(me) lab status
            Logs: \(state.directory)/logs. \(detached ? "`\(me) lab down` removes the lab." : "Ctrl-C removes the lab.")
            """)
    }
}
