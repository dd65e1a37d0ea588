import ArgumentParser
import KubeServer
import Logging
import NetCore

/// `pylon server`: the embedded Kubernetes API server.
struct Server: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded Kubernetes-compatible API server (SQLite storage, HTTPS, token auth).")

    @Option(name: .customLong("data-dir"), help: "Directory for the database, certificates, token and kubeconfig.")
    var dataDir = "/var/lib/pylon/server"

    @Option(name: .customLong("bind-address"), help: "Address to listen on.")
    var bindAddress = "127.0.0.1"

    @Option(help: "HTTPS port (0 picks a free port).")
    var port = 6443

    @Option(
        name: .customLong("advertise-address"),
        help: "Address clients use to reach the server (repeatable; added to the certificate).")
    var advertiseAddresses: [String] = []

    @Option(
        name: .customLong("service-cidr"),
        help: "Network for Service cluster IPs; two comma-separated CIDRs (IPv4 and IPv6) for dual-stack.")
    var serviceCIDR = "10.43.0.0/16"

    @Option(
        name: .customLong("cluster-cidr"),
        help: """
            Network Nodes get their pod CIDRs from; two comma-separated CIDRs (IPv4 and IPv6) for dual-stack; \
            empty: hand out none.
            """)
    var clusterCIDR = "10.42.0.0/16"

    @Option(name: .customLong("node-cidr-mask-size-ipv4"), help: "Prefix length of each Node's IPv4 pod CIDR.")
    var nodeMaskIPv4 = 24

    @Option(name: .customLong("node-cidr-mask-size-ipv6"), help: "Prefix length of each Node's IPv6 pod CIDR.")
    var nodeMaskIPv6 = 64

    @Option(name: .customLong("watch-history"), help: "Number of past changes a watch can resume from.")
    var watchHistory = 10_000

    @Option(
        name: .customLong("max-connections-per-client"),
        help: "Open connections one client address may hold; one more is closed at once.")
    var maxConnectionsPerClient = ClientLimits().connectionsPerClient

    @Option(
        name: .customLong("max-watches-per-client"),
        help: "Watches one client address may hold at once; one more is answered 429 TooManyRequests.")
    var maxWatchesPerClient = ClientLimits().watchesPerClient

    @OptionGroup var log: LogOptions

    func validate() throws {
        do {
            _ = try APIServer.Configuration.parseServiceCIDRs(serviceCIDR)
        } catch {
            throw ValidationError("--service-cidr: \(error)")
        }
        _ = try podNetworks()
        for a in advertiseAddresses where IPAddress(a) == nil {
            throw ValidationError("--advertise-address: \"\(a)\" is not an IP address")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard watchHistory > 0 else { throw ValidationError("--watch-history must be positive") }
        guard maxConnectionsPerClient > 0 else {
            throw ValidationError("--max-connections-per-client must be positive")
        }
        guard maxWatchesPerClient > 0 else { throw ValidationError("--max-watches-per-client must be positive") }
    }

    func run() async throws {
        let logger = log.logger("pylon.server")
        let server = APIServer(
            configuration: .init(
                dataDirectory: dataDir, bindAddress: bindAddress, port: port, advertiseAddresses: advertiseAddresses,
                serviceCIDRs: try APIServer.Configuration.parseServiceCIDRs(serviceCIDR),
                podNetworks: try podNetworks(),
                historyLimit: watchHistory,
                clientLimits: ClientLimits(
                    connectionsPerClient: maxConnectionsPerClient, watchesPerClient: maxWatchesPerClient)),
            logger: logger)
        try await Daemon.run([server], logger: logger)
    }

    private func podNetworks() throws -> PodNetworks {
        do {
            return try PodNetworks.parse(clusterCIDR, ipv4SubnetLength: nodeMaskIPv4, ipv6SubnetLength: nodeMaskIPv6)
        } catch {
            throw ValidationError("--cluster-cidr: \(error)")
        }
    }
}
