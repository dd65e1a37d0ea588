import ArgumentParser
import Explain
import FoundationEssentials
import KubeAPI
import KubeClient

/// `pylon explain`: answers "why is my EXTERNAL-IP pending / why does nobody answer ARP?" from live state.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Explain why a LoadBalancer Service has, or lacks, a working address.",
        subcommands: [ExplainServiceCommand.self])
}

/// `pylon explain service NAMESPACE/NAME`.
struct ExplainServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service", abstract: "Explain one LoadBalancer Service (NAMESPACE/NAME, or NAME in default).")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "The Service: NAMESPACE/NAME, or NAME in the default namespace.")
    var service: String

    @OptionGroup var client: ClientOptions

    @Option(help: "Namespace of the metallb.io configuration (as given to pylon controller).")
    var namespace = "pylon-system"

    @Option(name: .customLong("lb-class"), help: "The load balancer class Pylon runs with (default: class-less).")
    var loadBalancerClass: String?

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var output = Format.text

    func run() async throws {
        let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
        let (serviceNamespace, name) = parts.count == 2 ? (parts[0], parts[1]) : ("default", service)
        let kube = try KubeClient(configuration: try client.configuration())
        let snapshot: ClusterSnapshot
        do {
            snapshot = try await ClusterSnapshot.gather(
                from: APIClusterReader(kube: kube), service: serviceNamespace, name: name,
                configurationNamespace: namespace,
                loadBalancerClass: loadBalancerClass)
            try await kube.shutdown()
        } catch {
            try? await kube.shutdown()
            throw error
        }
        guard let explanation = ServiceExplainer.explain(namespace: serviceNamespace, name: name, in: snapshot) else {
            throw ValidationError("service \(serviceNamespace)/\(name) not found")
        }
        if output == .json {
            try JSONOutput.print(explanation)
            return
        }
        print(explanation.text, terminator: "")
    }
}
