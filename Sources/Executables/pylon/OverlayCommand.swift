import ArgumentParser
import CNI
import Files
import FoundationEssentials
import Kernel
import KubeClient
import NetCore
import Overlay
import OverlayAgent
import Telemetry

/// `pylon overlay`: the flannel-compatible pod network of one node.
struct OverlayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlay",
        abstract: "Run this node's pod network (flannel-compatible VXLAN or host-gw) from its Node's pod CIDR.")

    @OptionGroup var client: ClientOptions

    @Option(help: "This node's name (default: $NODE_NAME).")
    var nodeName: String?

    @Option(name: .customLong("net-conf"), help: "flannel's net-conf.json.")
    var netConf = "/etc/kube-flannel/net-conf.json"

    @Option(name: .customLong("subnet-file"), help: "Where to write subnet.env for the CNI plugin.")
    var subnetFile = SubnetEnv.defaultPath

    @Option(name: .customLong("cni-conf-dir"), help: "Where to write the CNI conflist (10-pylon.conflist).")
    var cniConfDir = "/etc/cni/net.d"

    @Option(
        name: .customLong("cni-data-dir"),
        help: """
            Where the CNI plugin keeps per-pod records and address reservations, named in the conflist (default:             the plugin's /var/lib/cni/flannel and /var/lib/cni/networks).
            """)
    var cniDataDir: String?

    @Option(help: "This node's IPv4 address for other nodes (default: node-public-ip annotation, else InternalIP).")
    var publicIP: String?

    @Option(name: .customLong("public-ipv6"), help: "This node's IPv6 address for other nodes.")
    var publicIPv6: String?

    @Option(
        name: .customLong("ip-masq"),
        help: "Masquerade pod traffic leaving the cluster here (FLANNEL_IPMASQ; the bridge then does not).")
    var ipMasq = true

    @Option(
        name: .customLong("vxlan-checksum-offload"),
        help: """
            Transmit checksum offload on the VXLAN devices: auto (off on kernels before 5.7 and behind NAT, where \
            checksums come out wrong: flannel #1279), on, or off.
            """)
    var vxlanChecksumOffload = ChecksumOffload.auto

    @Option(
        help: """
            Program this network namespace (a path such as /var/run/netns/NAME) instead of the process's own; the \
            API is still reached from the process's namespace.
            """)
    var netns: String?

    @Option(help: "Seconds between full comparisons of the kernel with the plan.")
    var resyncSeconds = 10

    @Option(name: .customLong("metrics-address"), help: "Address of the /metrics, /healthz and /readyz endpoint.")
    var metricsAddress = "127.0.0.1"

    @Option(name: .customLong("metrics-port"), help: "Port of the /metrics, /healthz and /readyz endpoint.")
    var metricsPort = 7474

    @OptionGroup var log: LogOptions

    var resolvedNodeName: String? {
        let name = nodeName ?? ProcessInfo.processInfo.environment["NODE_NAME"]
        return name?.isEmpty == false ? name : nil
    }

    func validate() throws {
        guard resolvedNodeName != nil else { throw ValidationError("--node-name or NODE_NAME is required") }
        for (flag, text, family) in [("--public-ip", publicIP, IPFamily.ipv4), ("--public-ipv6", publicIPv6, .ipv6)] {
            guard let text else { continue }
            guard IPAddress(text)?.family == family else {
                throw ValidationError("\(flag): \"\(text)\" is not an \(family.rawValue) address")
            }
        }
        guard (1...3600).contains(resyncSeconds) else { throw ValidationError("--resync-seconds must be 1-3600") }
    }

    func run() async throws {
        let logger = log.logger("pylon.overlay")
        guard let text = FileIO.read(netConf) else {
            throw ValidationError("--net-conf: cannot read \(netConf)")
        }
        let conf: NetConf
        do {
            conf = try NetConf(parsing: String(decoding: text, as: UTF8.self))
        } catch {
            throw ValidationError("\(netConf): \(error.message)")
        }
        let registry = MetricsServer.bootstrap()
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let agent = OverlayAgent(
            client: kube,
            options: .init(
                nodeName: resolvedNodeName!, netConf: conf, subnetFile: subnetFile, cniConfigDirectory: cniConfDir,
                cniDataDirectory: cniDataDir,
                publicIP: publicIP.flatMap(IPAddress.init), publicIPv6: publicIPv6.flatMap(IPAddress.init),
                ipMasq: ipMasq, vxlanChecksumOffload: vxlanChecksumOffload, resyncInterval: .seconds(resyncSeconds),
                namespace: netns.map { NetworkNamespace(path: $0) } ?? .current),
            logger: logger)
        let metrics = MetricsServer(host: metricsAddress, port: metricsPort, registry: registry, logger: logger) {
            agent.isReady
        }
        try await Daemon.run([metrics, agent], client: kube, logger: logger)
    }
}

extension ChecksumOffload: ExpressibleByArgument {}
