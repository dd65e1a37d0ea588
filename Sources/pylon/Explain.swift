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
            snapshot = try await Self.snapshot(
                kube, namespace: namespace, serviceNamespace: serviceNamespace, name: name,
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
        print("Service \(explanation.service): \(explanation.summary)")
        let width = explanation.findings.map(\.topic.count).max() ?? 0
        for finding in explanation.findings {
            let mark = ["ok": "✓", "info": "·", "problem": "✗"][finding.level.rawValue] ?? "?"
            print("  \(mark) \(finding.topic.padded(to: width + 2))\(finding.text)")
        }
    }

    /// Reads what the explanation needs; a missing metallb.io resource (CRDs not installed) reads as empty.
    static func snapshot(
        _ kube: KubeClient, namespace: String, serviceNamespace: String, name: String, loadBalancerClass: String?
    ) async throws -> ClusterSnapshot {
        func items(_ resource: Resource, in namespace: String? = nil, label: String? = nil) async throws -> [JSON] {
            do {
                return try await kube.listAll(resource, namespace: namespace, labelSelector: label).items
            } catch let status as Status where status.code == 404 {
                return []
            }
        }
        var snapshot = ClusterSnapshot(loadBalancerClass: loadBalancerClass)
        snapshot.services = try await items(.services)
        snapshot.namespaces = try await items(.namespaces)
        snapshot.pools = try await items(.ipAddressPools, in: namespace)
        snapshot.l2Advertisements = try await items(.l2Advertisements, in: namespace)
        snapshot.bgpAdvertisements = try await items(.bgpAdvertisements, in: namespace)
        snapshot.bgpPeers = try await items(.bgpPeers, in: namespace)
        snapshot.communities = try await items(.communities, in: namespace)
        snapshot.bfdProfiles = try await items(.bfdProfiles, in: namespace)
        snapshot.endpointSlices = try await items(
            .endpointSlices, in: serviceNamespace, label: "kubernetes.io/service-name=\(name)")
        snapshot.nodes = try await items(.nodes)
        snapshot.serviceL2Statuses = try await items(.serviceL2Statuses, in: namespace)
        snapshot.events = try await items(.events, in: serviceNamespace).filter {
            $0["involvedObject"]?["kind"]?.stringValue == "Service"
                && $0["involvedObject"]?["name"]?.stringValue == name
        }
        return snapshot
    }
}
