import ArgumentParser
import FoundationEssentials
import Kernel
import KubeAPI
import KubeClient
import NetCore
import ProxyAgent
import Telemetry

/// `pylon proxy`: kube-proxy's Service routing of one node, in nftables.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Route this node's Service traffic (ClusterIPs, NodePorts, load balancer IPs) in nftables.")

    @OptionGroup var client: ClientOptions

    @Option(help: "This node's name (default: $NODE_NAME).")
    var nodeName: String?

    @Option(
        name: .customLong("cluster-cidr"),
        help: "The pod networks, comma separated: translated traffic from outside them is masqueraded.")
    var clusterCIDR = "10.42.0.0/16"

    @Option(help: "Seconds between whole rebuilds of the tables (drift repair).")
    var resyncSeconds = 30

    @Option(
        help: """
            Program this network namespace (a path such as /var/run/netns/NAME) instead of the process's own; the \
            API is still reached from the process's namespace.
            """)
    var netns: String?

    @Option(name: .customLong("metrics-address"), help: "Address of the /metrics, /healthz and /readyz endpoint.")
    var metricsAddress = "127.0.0.1"

    @Option(name: .customLong("metrics-port"), help: "Port of the /metrics, /healthz and /readyz endpoint.")
    var metricsPort = 10249

    @OptionGroup var log: LogOptions

    var resolvedNodeName: String? {
        let name = nodeName ?? ProcessInfo.processInfo.environment["NODE_NAME"]
        return name?.isEmpty == false ? name : nil
    }

    var clusterCIDRs: [IPNetwork?] {
        clusterCIDR.split(separator: ",").map { IPNetwork(String($0).trimmed()) }
    }

    func validate() throws {
        guard resolvedNodeName != nil else { throw ValidationError("--node-name or NODE_NAME is required") }
        guard clusterCIDRs.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--cluster-cidr: \"\(clusterCIDR)\" is not a comma-separated list of CIDRs")
        }
        guard (1...3600).contains(resyncSeconds) else { throw ValidationError("--resync-seconds must be 1-3600") }
    }

    func run() async throws {
        let logger = log.logger("pylon.proxy")
        // Few busy threads: two heap arenas keep memory compact (MemoryTrimmer.limitArenas).
        MemoryTrimmer.limitArenas(2)
        let registry = MetricsServer.bootstrap()
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let agent = ProxyAgent(
            client: kube,
            options: .init(
                nodeName: resolvedNodeName!, clusterCIDRs: clusterCIDRs.compactMap { $0 },
                resyncInterval: .seconds(resyncSeconds),
                namespace: netns.map { NetworkNamespace(path: $0) } ?? .current),
            logger: logger)
        let metrics = MetricsServer(host: metricsAddress, port: metricsPort, registry: registry, logger: logger) {
            agent.isReady
        }
        try await Daemon.run([metrics, agent], client: kube, logger: logger)
    }
}
