import FoundationEssentials
import KubeAPI
import KubeClient
import Processes

extension LabCluster {
    /// How `failover` takes the announcing node out.
    public enum FailoverMode: String, Sendable, CaseIterable, Codable {
        /// SIGKILL of the node's speaker (the node itself keeps running).
        case kill
        /// The node's LAN link goes down (the node is cut off).
        case linkDown = "link-down"
    }

    public struct FailoverResult: Sendable, Codable, Equatable {
        public var service: String
        public var address: String
        public var mode: FailoverMode
        public var from: String
        public var to: String
        public var client: ProbeLog.Failover
    }

    /// Takes the node announcing `service` out while the client probes its IPv4 address over HTTP every 10 ms,
    /// waits until another node announces it and answers the client, then restores the node (restarts the speaker
    /// or brings the link up again).
    /// - Throws: `Failure` when no lab runs, the Service has no address or announcer, or no other node takes over
    ///   within 30 s.
    public func failover(directory: String = LabCluster.defaultDirectory, service: String, mode: FailoverMode)
        async throws -> FailoverResult
    {
        guard var state = try LabState.load(directory: directory) else { throw Failure("no lab is running") }
        let parts = service.split(separator: "/").map(String.init)
        let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : ("default", service)
        return try await Self.withClient(state) { client in
            try await failover(&state, client: client, namespace: namespace, name: name, mode: mode)
        }
    }

    private func failover(
        _ state: inout LabState, client: KubeClient, namespace: String, name: String, mode: FailoverMode
    ) async throws -> FailoverResult {
        guard
            let address = Self.ingress(try await client.get(.services, namespace: namespace, name: name))
                .first(where: { !$0.contains(":") })
        else { throw Failure("\(namespace)/\(name) has no IPv4 load balancer address") }
        let probeLog = "\(state.directory)/logs/probe.log"
        try? FileManager.default.removeItem(atPath: probeLog)
        let probeArgv = [
            Self.ip, "netns", "exec", "\(state.prefix)-client", state.binary, "lab", "probe", address, "--interval-ms",
            "10", "--timeout-ms", "100", "--duration", "40", "--count", "4000",
        ]
        let probe = try ChildProcess.spawnDaemon(probeArgv, log: probeLog)
        defer { ChildProcess.stop(probe, marker: state.binary) }
        // Settled: one node announces the address and the client's last ten requests reached it (after an earlier
        // drill the restored node may be taking its addresses back).
        var from = ""
        try await Self.waitUntil("one node announces \(address) and answers the client", timeout: .seconds(30)) {
            from = try await Self.announcer(client, service: name, namespace: namespace) ?? ""
            let recent = ProbeLog(Self.read(probeLog)).probes.suffix(10)
            return !from.isEmpty && recent.count == 10 && recent.allSatisfy { $0.answer == from }
        }
        let sentBefore = ProbeLog(Self.read(probeLog)).probes.count
        switch mode {
        case .kill:
            guard let speaker = state.daemons.first(where: { $0.role == "speaker" && $0.host == from }) else {
                throw Failure("no speaker of \(from) in the lab's state")
            }
            say(
                "killing \(from)'s speaker (SIGKILL, pid \(speaker.pid)); the client probes http://\(address)/ every 10 ms"
            )
            ChildProcess.crash(speaker.pid, marker: state.binary)
        case .linkDown:
            say("taking \(from)'s link down; the client probes http://\(address)/ every 10 ms")
            _ = try? await ChildProcess.run(
                Self.ip, ["-n", "\(state.prefix)-\(from)", "link", "set", "eth0", "down"], standardError: .discarded)
        }
        var to = ""
        try await Self.waitUntil("another node announces \(address) and answers the client", timeout: .seconds(30)) {
            to = try await Self.announcer(client, service: name, namespace: namespace) ?? ""
            let seen = ProbeLog(Self.read(probeLog)).probes.dropFirst(sentBefore)
            return !to.isEmpty && to != from && seen.suffix(10).count == 10
                && seen.suffix(10).allSatisfy { $0.answer == to }
        }
        ChildProcess.stop(probe, marker: state.binary)
        let seen = ProbeLog(Self.read(probeLog)).failover(from: sentBefore)

        switch mode {
        case .kill:
            let speaker = state.daemons.first { $0.role == "speaker" && $0.host == from }!
            try spawn(&state, role: "speaker", host: from, speaker.argv)
            say("restarted \(from)'s speaker")
        case .linkDown:
            _ = try? await ChildProcess.run(
                Self.ip, ["-n", "\(state.prefix)-\(from)", "link", "set", "eth0", "up"], standardError: .discarded)
            say("brought \(from)'s link up again")
        }
        return FailoverResult(
            service: "\(namespace)/\(name)", address: address, mode: mode, from: from, to: to, client: seen)
    }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
