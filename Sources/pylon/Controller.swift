import ArgumentParser
import Controller
import Foundation
import KubeClient
import Logging
import ServiceLifecycle

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

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "pylon.controller")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let kube = try KubeClient(configuration: try client.configuration(), logger: logger)
        let controller = LoadBalancerController(
            client: kube, options: .init(namespace: namespace, loadBalancerClass: loadBalancerClass), logger: logger)
        let service: any Service
        if leaderElect {
            let identity = "\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8).lowercased())"
            service = LeaderElector(
                client: kube, namespace: namespace, name: "pylon-controller", identity: identity, logger: logger
            ) {
                await controller.runLoop()
            }
        } else {
            service = controller
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await kube.shutdown()
    }
}
