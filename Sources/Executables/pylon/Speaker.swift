import ArgumentParser
import FoundationEssentials
import KubeClient
import Layer2
import Logging
import Speaker
import Telemetry

/// `pylon speaker`: announces LoadBalancer addresses on the node's LAN (Layer 2: ARP and NDP).
struct SpeakerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speaker",
        abstract: "Announce LoadBalancer addresses on this node's LAN (ARP/NDP), one node per address.")

    @OptionGroup var client: ClientOptions

    @Option(help: "This node's name (default: $NODE_NAME).")
    var nodeName: String?

    @Option(help: "Namespace of the metallb.io configuration and the membership Secret.")
    var namespace = "pylon-system"

    @Option(
        name: .customLong("lb-class"),
        help: "Announce only Services with this spec.loadBalancerClass (default: class-less ones).")
    var loadBalancerClass: String?

    @Option(help: "Membership address, IP or IP:port (default: the Node's first InternalIP).")
    var memberAddress: String?

    @Option(help: "Membership UDP port.")
    var memberPort = 7946

    @Option(help: "Secret holding the membership key.")
    var memberSecret = "memberlist"

    @Option(help: "Key of the membership key in that Secret.")
    var memberSecretKey = "secretkey"

    @Option(
        name: .customLong("interface"),
        help: "Announce only on interfaces matching this name (repeatable; a trailing * matches a prefix).")
    var interfaces: [String] = []

    @Option(
        name: .customLong("exclude-interface"),
        help: "Never announce on interfaces matching this (repeatable; replaces the default list).")
    var excludedInterfaces: [String] = []

    @Option(
        help: """
            Real-time (SCHED_FIFO) priority of the thread answering ARP and Neighbor Solicitations, 1-99; \
            0 keeps ordinary scheduling. Needs CAP_SYS_NICE (without it: ordinary scheduling and a notice).
            """)
    var responderPriority: Int32 = 1

    @Option(name: .customLong("metrics-address"), help: "Address of the /metrics, /healthz and /readyz endpoint.")
    var metricsAddress = "127.0.0.1"

    @Option(name: .customLong("metrics-port"), help: "Port of the /metrics, /healthz and /readyz endpoint.")
    var metricsPort = 7473

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard resolvedNodeName != nil else { throw ValidationError("--node-name or NODE_NAME is required") }
        guard (1...65535).contains(memberPort) else { throw ValidationError("--member-port must be 1-65535") }
        guard (0...99).contains(responderPriority) else {
            throw ValidationError("--responder-priority must be 0-99")
        }
    }

    var resolvedNodeName: String? {
        let name = nodeName ?? ProcessInfo.processInfo.environment["NODE_NAME"]
        return name?.isEmpty == false ? name : nil
    }

    func run() async throws {
        // Few busy threads: two heap arenas keep memory compact (MemoryTrimmer.limitArenas).
        MemoryTrimmer.limitArenas(2)
        let registry = MetricsServer.bootstrap()
        let logger = log.logger("pylon.speaker")
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let options = L2Speaker.Options(
            nodeName: resolvedNodeName!, namespace: namespace, loadBalancerClass: loadBalancerClass,
            memberAddress: memberAddress, memberPort: memberPort, secretName: memberSecret,
            secretKey: memberSecretKey,
            interfaces: InterfaceFilter(
                include: interfaces,
                exclude: excludedInterfaces.isEmpty ? InterfaceFilter.defaultExcluded : excludedInterfaces),
            responderPriority: responderPriority)
        let speaker = L2Speaker(client: kube, options: options, logger: logger)
        // BGP mode runs beside Layer 2, as in MetalLB: it peers only where BGPPeer objects select this node.
        let bgp = BGPSpeaker(client: kube, sharingWith: speaker, logger: logger)
        let metrics = MetricsServer(host: metricsAddress, port: metricsPort, registry: registry, logger: logger) {
            speaker.isReady
        }
        try await Daemon.run([metrics, speaker, bgp], client: kube, logger: logger)
    }
}
