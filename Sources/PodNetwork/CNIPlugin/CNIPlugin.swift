import CNI
import Kernel
import KubeAPI

/// The `pylon` binary as a CNI plugin (spec 1.1.0): what a container runtime runs, with `CNI_COMMAND` and the rest in
/// the environment and the network configuration on standard input, for every pod it starts or stops.
///
/// One process does what the reference plugins split over three (`bridge`, which runs `host-local`, then `portmap`):
/// a bridge network with host-local addresses and, with the `portMappings` capability, host ports in nftables.
///
/// Isolation: `run` blocks the calling thread (netlink, files, flock); it is the whole life of a plugin process.
public enum CNIPlugin {
    /// What the process prints on standard output and exits with.
    public struct Outcome: Sendable, Equatable {
        public var output: String
        public var exitStatus: Int32
    }

    /// Carries out one invocation. Never throws: every failure becomes the spec's error document with exit status 1.
    public static func run(environment: [String: String], input: [UInt8]) -> Outcome {
        var version = CNIVersion.current
        do throws(CNIError) {
            let invocation = try CNIInvocation(environment: environment)
            if invocation.command == .version {
                let info: JSON = [
                    "cniVersion": .string(CNIVersion.current),
                    "supportedVersions": .array(CNIVersion.supported.map { .string($0) }),
                ]
                return Outcome(output: info.text(indent: 4), exitStatus: 0)
            }
            let document: JSON
            do throws(JSONError) { document = try JSONParser.parse(input) } catch {
                throw CNIError(.decodingFailure, "error unmarshall network config: \(error)")
            }
            let requested = try NetworkConfig.version(of: document)
            guard CNIVersion.supported.contains(requested) else {
                let supported = CNIVersion.supported.map { "\"\($0)\"" }.joined(separator: " ")
                throw CNIError(
                    .incompatibleVersion, "incompatible CNI versions",
                    details: "config is \"\(requested)\", plugin supports [\(supported)]")
            }
            version = requested
            guard CNIVersion.allows(invocation.command, in: requested) else {
                throw CNIError(.incompatibleVersion, "config version does not allow \(invocation.command.rawValue)")
            }
            let config = try NetworkConfig(parsing: document)
            let context = PluginContext(invocation: invocation, config: config)
            switch invocation.command {
            case .add:
                return Outcome(output: try context.add().json(version: version).text(indent: 4), exitStatus: 0)
            case .delete: try context.delete()
            case .check: try context.check()
            case .status: try context.status()
            case .garbageCollect: try context.collectGarbage()
            case .version: break
            }
            return Outcome(output: "", exitStatus: 0)
        } catch {
            return Outcome(output: error.json(cniVersion: version).text(indent: 4), exitStatus: 1)
        }
    }
}

/// One invocation's parameters, shared by the commands' implementations.
struct PluginContext {
    let invocation: CNIInvocation
    let config: NetworkConfig

    /// Runs a kernel request; a refusal becomes `CNIError.kernelRefused` saying what was being done.
    func kernel<T>(_ what: @autoclosure () -> String, _ body: () throws(NetlinkSocketError) -> T) throws(CNIError) -> T
    {
        do { return try body() } catch { throw CNIError(.kernelRefused, "\(what()): \(error)") }
    }

    /// The configuration with flannel mode resolved from the node's `subnet.env`.
    /// - Throws: `CNIError.tryAgainLater` while the file does not exist (flannel, or `pylon overlay`, has not
    ///   written it yet), `.invalidConfig` when it holds something else than flannel writes.
    func resolvedConfig() throws(CNIError) -> NetworkConfig {
        guard let flannel = config.flannel else { return config }
        guard let text = HostLocalStore.readFile(flannel.subnetFile) else {
            throw CNIError(
                .tryAgainLater, "\(flannel.subnetFile) does not exist yet",
                details: "the overlay (flannel or pylon overlay) writes it once the node has a pod subnet")
        }
        return try config.resolved(with: try SubnetEnv(parsing: text, file: flannel.subnetFile))
    }

    /// The store holding this attachment's addresses: in flannel mode, where flannel's record of the container
    /// says (it may name an `ipam.dataDir`), else where the configuration says.
    func attachmentStore() throws(CNIError) -> HostLocalStore {
        guard let flannel = config.flannel,
            let directory = FlannelRecord.ipamDataDirectory(flannel, containerID: invocation.containerID)
        else { return try store(config) }
        return try HostLocalStore(network: config.name, dataDirectory: directory)
    }

    /// The host-local store of the network.
    func store(_ config: NetworkConfig) throws(CNIError) -> HostLocalStore {
        let directory =
            config.ipam?.dataDirectory ?? config.flannel?.ipamDataDirectory ?? IPAMConfig.defaultDataDirectory
        return try HostLocalStore(network: config.name, dataDirectory: directory)
    }
}
