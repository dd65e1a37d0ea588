import Files
import Hummingbird
import KubeAPI
import Logging
import NIOSSL
import NetCore
import ServiceLifecycle

/// `pylon server`: the embedded Kubernetes API server as a `Service` — storage, credentials, kubeconfig, the
/// HTTPS listener and the controllers K3s runs with it (`EndpointSliceController`).
///
/// `run()` serves until graceful shutdown is triggered, then closes the listener and the store.
public struct APIServer: Service {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        public var bindAddress: String
        public var port: Int
        public var advertiseAddresses: [String]
        /// Service CIDRs: one, or two of different families for dual-stack (the first is primary).
        public var serviceCIDRs: [IPNetwork]
        /// The cluster CIDRs Nodes get their pod CIDRs from (`--cluster-cidr`; K3s' `10.42.0.0/16` by default).
        public var podNetworks: PodNetworks
        public var historyLimit: Int
        /// What one client may hold at once and how long a connection may stay silent.
        public var clientLimits: ClientLimits

        /// Parses `--service-cidr`: one CIDR, or two of different families separated by a comma.
        ///
        /// - Throws: `InvalidServiceCIDRs` naming the offending part.
        public static func parseServiceCIDRs(_ text: String) throws(InvalidServiceCIDRs) -> [IPNetwork] {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var networks: [IPNetwork] = []
            for part in parts {
                guard let network = IPNetwork(part) else {
                    throw InvalidServiceCIDRs(description: "\"\(part)\" is not a CIDR")
                }
                networks.append(network)
            }
            guard networks.count <= 2, Set(networks.map(\.family)).count == networks.count else {
                throw InvalidServiceCIDRs(
                    description: "\"\(text)\": give one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack")
            }
            return networks
        }

        public init(
            dataDirectory: String, bindAddress: String = "127.0.0.1", port: Int = 6443,
            advertiseAddresses: [String] = [], serviceCIDRs: [IPNetwork] = [IPNetwork("10.43.0.0/16")!],
            podNetworks: PodNetworks = .k3sDefault, historyLimit: Int = 10_000,
            clientLimits: ClientLimits = ClientLimits()
        ) {
            self.podNetworks = podNetworks
            self.clientLimits = clientLimits
            self.dataDirectory = dataDirectory
            self.bindAddress = bindAddress
            self.port = port
            self.advertiseAddresses = advertiseAddresses
            self.serviceCIDRs = serviceCIDRs
            self.historyLimit = historyLimit
        }
    }

    /// A `--service-cidr` value that is not one CIDR or a dual-stack pair.
    public struct InvalidServiceCIDRs: Error, CustomStringConvertible {
        public let description: String
    }

    public let configuration: Configuration
    public let logger: Logger
    private let onReady: @Sendable (Int) async -> Void

    /// - Parameter onReady: called with the bound port once the server accepts connections.
    public init(
        configuration: Configuration, logger: Logger, onReady: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let c = configuration
        try FileIO.makeDirectory(c.dataDirectory)
        let addresses = Array(
            Set(
                ["127.0.0.1", "::1"] + c.advertiseAddresses
                    + (["0.0.0.0", "::"].contains(c.bindAddress) ? [] : [c.bindAddress])))
        let credentials = try await ServerCredentials.loadOrCreate(
            directory: c.dataDirectory, addresses: addresses, hostnames: ["localhost"])
        let storage = try Storage(directory: c.dataDirectory, historyLimit: c.historyLimit, logger: logger)
        let limiter = ClientLimiter(limits: c.clientLimits)
        let handler = APIHandler(
            registry: ResourceRegistry(), storage: storage, token: credentials.token, serviceCIDRs: c.serviceCIDRs,
            podNetworks: c.podNetworks, clock: { Clock.microsecondsSinceEpoch() }, logger: logger, limiter: limiter)
        try await handler.bootstrap()

        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(credentials.certificatePEM.utf8)).map {
                .certificate($0)
            },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(credentials.keyPEM.utf8), format: .pem)))
        tls.applicationProtocols = ["http/1.1"]
        tls.minimumTLSVersion = .tlsv12
        let kubeconfigPath = c.dataDirectory + "/kubeconfig.yaml"
        let advertised =
            c.advertiseAddresses.first ?? (["0.0.0.0", "::"].contains(c.bindAddress) ? "127.0.0.1" : c.bindAddress)
        let logger = self.logger
        let onReady = self.onReady
        let app = Application(
            responder: KubeResponder(handler: handler),
            server: try HTTPSChannel.builder(tlsConfiguration: tls, limiter: limiter),
            configuration: .init(address: .hostname(c.bindAddress, port: c.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? c.port
                let host = advertised.contains(":") ? "[\(advertised)]" : advertised
                do {
                    try credentials.writeKubeconfig(to: kubeconfigPath, server: "https://\(host):\(port)")
                } catch {
                    logger.error(
                        "cannot write kubeconfig", metadata: ["path": "\(kubeconfigPath)", "error": "\(error)"])
                }
                logger.info(
                    "pylon server ready",
                    metadata: ["address": "\(c.bindAddress):\(port)", "kubeconfig": "\(kubeconfigPath)"])
                if let address = IPAddress(advertised) {
                    await handler.publishOwnEndpoints(address: address, port: port)
                }
                await onReady(port)
                // Connections are accepted once this closure returns: report in the background.
                Task.detached { await handler.reportStoredObjectsOutsideTheirSchemas() }
            },
            logger: logger)
        let endpointSlices = EndpointSliceController(handler: handler, logger: logger)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                // The controllers K3s runs with its API server (kube-controller-manager's share networking needs).
                group.addTask { try await endpointSlices.run() }
                // Long-running watches would hold a graceful shutdown open until they time out; end them first.
                try await withGracefulShutdownHandler {
                    try await app.runService(gracefulShutdownSignals: [])
                } onGracefulShutdown: {
                    storage.finishAllWatches()
                }
            }
        } catch {
            await storage.shutdown()
            throw error
        }
        await storage.shutdown()
    }
}
