import KubeAPI
import KubeClient
import Processes

extension LabCluster {
    /// What `pylon lab status` shows.
    public struct Status: Sendable, Codable, Equatable {
        public struct Daemon: Sendable, Codable, Equatable {
            public var role: String
            public var host: String
            public var pid: Int32
            public var running: Bool
            public var log: String
        }

        public struct LoadBalancer: Sendable, Codable, Equatable {
            public var namespace: String
            public var name: String
            /// Empty while pending.
            public var addresses: [String]
            /// The node whose speaker answers for the addresses (from ServiceL2Status), if one does.
            public var announcedBy: String?
        }

        public var directory: String
        public var kubeconfig: String
        public var hosts: [String]
        public var namespaces: [String: String]
        public var daemons: [Daemon]
        public var services: [LoadBalancer]
        /// Why `services` could not be read, if it could not.
        public var apiError: String?
    }

    /// The lab's hosts, daemons and LoadBalancer Services.
    /// - Throws: `Failure` when no lab runs.
    public func status(directory: String = LabCluster.defaultDirectory) async throws -> Status {
        guard let state = try LabState.load(directory: directory) else { throw Failure("no lab is running") }
        var status = Status(
            directory: state.directory, kubeconfig: state.kubeconfig, hosts: state.hosts,
            namespaces: Dictionary(uniqueKeysWithValues: state.hosts.map { ($0, "\(state.prefix)-\($0)") }),
            daemons: state.daemons.map {
                .init(
                    role: $0.role, host: $0.host, pid: $0.pid,
                    running: ChildProcess.isRunning($0.pid, marker: state.binary), log: $0.log)
            },
            services: [], apiError: nil)
        do {
            status.services = try await Self.withClient(state) { client in
                let statuses =
                    try await client.list(.serviceL2Statuses, namespace: LabManifests.namespace)["items"]?
                    .arrayValue ?? []
                return (try await client.list(.services)["items"]?.arrayValue ?? [])
                    .filter { $0["spec"]?["type"]?.stringValue == "LoadBalancer" }
                    .map { service in
                        let namespace = service["metadata"]?["namespace"]?.stringValue ?? ""
                        let name = service["metadata"]?["name"]?.stringValue ?? ""
                        let announcers = statuses.filter {
                            $0["status"]?["serviceName"]?.stringValue == name
                                && $0["status"]?["serviceNamespace"]?.stringValue == namespace
                        }.compactMap { $0["status"]?["node"]?.stringValue }
                        return Status.LoadBalancer(
                            namespace: namespace, name: name, addresses: Self.ingress(service),
                            announcedBy: announcers.count == 1 ? announcers[0] : nil)
                    }
            }
        } catch {
            status.apiError = "\(error)"
        }
        return status
    }
}
