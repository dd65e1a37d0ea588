import ArgumentParser
import Controller
import FoundationEssentials
import KubeClient
import Logging
import ServiceLifecycle
import Telemetry

/// `pylon controller`: MetalLB-compatible address management for LoadBalancer Services.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Assign LoadBalancer Service addresses from metallb.io IPAddressPools.")

    @OptionGroup var client: ClientOptions

    @Option(help: "Namespace of the IPAddressPools and L2Advertisements (metallb-system for drop-in use).")
    var namespace = "pylon-system"

    @Option(
        name: .customLong("lb-class"),
        help: "Handle only Services with this spec.loadBalancerClass (default: class-less ones).")
    var loadBalancerClass: String?

    @Flag(inversion: .prefixedNo, help: "Use a Lease so that only one replica assigns addresses.")
    var leaderElect = true

    @Option(
        name: .customLong("leader-elect-lease-duration"),
        help: "Seconds a standby replica waits after the last renewal before it takes the Lease.")
    var leaseDuration = 15.0

    @Option(
        name: .customLong("leader-elect-renew-deadline"),
        help: "Seconds the leader keeps trying to renew before it stops assigning.")
    var renewDeadline = 10.0

    @Option(
        name: .customLong("leader-elect-retry-period"), help: "Seconds between attempts to take or renew the Lease.")
    var retryPeriod = 2.0

    @Option(name: .customLong("metrics-address"), help: "Address of the /metrics, /healthz and /readyz endpoint.")
    var metricsAddress = "127.0.0.1"

    @Option(name: .customLong("metrics-port"), help: "Port of the /metrics, /healthz and /readyz endpoint.")
    var metricsPort = 7472

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard retryPeriod > 0, renewDeadline > retryPeriod, leaseDuration > renewDeadline else {
            throw ValidationError(
                "leader election needs lease duration > renew deadline > retry period > 0 (got \(leaseDuration), \(renewDeadline), \(retryPeriod))"
            )
        }
    }

    func run() async throws {
        // Few busy threads: two heap arenas keep memory compact (MemoryTrimmer.limitArenas).
        MemoryTrimmer.limitArenas(2)
        let registry = MetricsServer.bootstrap()
        let logger = log.logger("pylon.controller")
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let controller = LoadBalancerController(
            client: kube, options: .init(namespace: namespace, loadBalancerClass: loadBalancerClass), logger: logger)
        let service: any Service
        var elector: LeaderElector?
        if leaderElect {
            let identity = "\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8).lowercased())"
            let e = LeaderElector(
                client: kube, namespace: namespace, name: "pylon-controller", identity: identity,
                timing: .init(
                    leaseDuration: .milliseconds(Int64(leaseDuration * 1000)),
                    renewDeadline: .milliseconds(Int64(renewDeadline * 1000)),
                    retryPeriod: .milliseconds(Int64(retryPeriod * 1000))),
                logger: logger
            ) {
                await controller.runLoop()
            }
            elector = e
            service = e
        } else {
            service = controller
        }
        let standby = elector
        // Ready once the first pass over Services is done; a standby replica is ready while it waits.
        let metrics = MetricsServer(host: metricsAddress, port: metricsPort, registry: registry, logger: logger) {
            controller.isSynced || (standby.map { !$0.isLeader } ?? false)
        }
        try await Daemon.run([metrics, service], client: kube, logger: logger)
    }
}
