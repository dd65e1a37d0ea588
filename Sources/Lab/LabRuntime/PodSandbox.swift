import FoundationEssentials
import KubeAPI
import Processes

/// A Pod's network namespace on a lab node — `pylab-<node>-pod-<id>`, the id the first 16 hex digits of the Pod's
/// UID, which is also its CNI container ID — and the `/etc/resolv.conf` kubelet would give the Pod, kept in
/// `/etc/netns/<namespace>/` where `ip netns exec` binds it over `/etc/resolv.conf` for the Pod's processes.
///
/// Made and removed with `ip` (the lab is a development tool; products program the kernel themselves). Every
/// failure is a `LabCluster.Failure` naming the step.
struct PodSandbox: Sendable, Hashable {
    let node: String
    let id: String

    init(node: String, id: String) {
        self.node = node
        self.id = id
    }

    init(node: String, podUID: String) {
        self.init(node: node, id: String(podUID.filter(\.isHexDigit).lowercased().prefix(16)))
    }

    static let ip = "/usr/sbin/ip"

    var namespace: String { "\(Self.prefix(node: node))\(id)" }
    var path: String { "/var/run/netns/\(namespace)" }
    var etcDirectory: String { "/etc/netns/\(namespace)" }

    static func prefix(node: String) -> String { "\(LabCluster.prefix)-\(node)-pod-" }

    /// The sandboxes of `node` that exist now (left by an earlier run of its agent, or current ones).
    static func existing(node: String) -> [PodSandbox] {
        LabNetwork.namespaces(ip: ip).filter { $0.hasPrefix(prefix(node: node)) }.map {
            PodSandbox(node: node, id: String($0.dropFirst(prefix(node: node).count)))
        }
    }

    /// Creates the namespace with `lo` up, and the Pod's resolv.conf when it has one.
    func create(resolvConf: String?) async throws(LabCluster.Failure) {
        for arguments in [["netns", "add", namespace], ["-n", namespace, "link", "set", "lo", "up"]] {
            let result: ProcessOutput
            do {
                result = try await ChildProcess.run(Self.ip, arguments, standardError: .merged)
            } catch {
                throw LabCluster.Failure("cannot create the pod's network namespace: \(error)")
            }
            guard result.succeeded else {
                throw LabCluster.Failure(
                    "ip \(arguments.joined(separator: " ")) failed: \(result.standardOutput.trimmed())")
            }
        }
        guard let resolvConf else { return }
        do {
            try FileManager.default.createDirectory(atPath: etcDirectory, withIntermediateDirectories: true)
            try resolvConf.write(toFile: etcDirectory + "/resolv.conf", atomically: true, encoding: .utf8)
        } catch {
            throw LabCluster.Failure("cannot write the pod's resolv.conf in \(etcDirectory): \(error)")
        }
    }

    /// Kills whatever still runs inside, removes the namespace and the resolv.conf. Never throws.
    func destroy() async {
        ChildProcess.killAll(inNamespace: namespace, ip: Self.ip)
        _ = try? await ChildProcess.run(Self.ip, ["netns", "delete", namespace], standardError: .discarded)
        try? FileManager.default.removeItem(atPath: etcDirectory)
    }

    /// The resolv.conf kubelet writes for `pod` (K3s' cluster DNS 10.43.0.10, domain cluster.local): for
    /// `dnsPolicy` ClusterFirst (the default) the cluster's search path and server with `ndots:5`; for None the
    /// Pod's `dnsConfig` alone; nil for Default and for host-network Pods (the node's own file applies).
    static func resolvConf(for pod: JSON, clusterDNS: String = "10.43.0.10", domain: String = "cluster.local")
        -> String?
    {
        let policy = pod["spec"]?["dnsPolicy"]?.stringValue ?? "ClusterFirst"
        let hostNetwork = pod["spec"]?["hostNetwork"]?.boolValue == true
        let config = pod["spec"]?["dnsConfig"]
        var servers: [String] = []
        var searches: [String] = []
        var options: [String] = []
        switch policy {
        case "ClusterFirst" where !hostNetwork, "ClusterFirstWithHostNet":
            let namespace = pod["metadata"]?["namespace"]?.stringValue ?? "default"
            servers = [clusterDNS]
            searches = ["\(namespace).svc.\(domain)", "svc.\(domain)", domain]
            options = ["ndots:5"]
        case "None":
            break
        default:
            return nil
        }
        servers += (config?["nameservers"]?.arrayValue ?? []).compactMap(\.stringValue)
        searches += (config?["searches"]?.arrayValue ?? []).compactMap(\.stringValue)
        for option in config?["options"]?.arrayValue ?? [] {
            guard let name = option["name"]?.stringValue else { continue }
            options.removeAll { $0.split(separator: ":").first.map(String.init) == name }
            options.append(option["value"]?.stringValue.map { "\(name):\($0)" } ?? name)
        }
        var lines: [String] = []
        if !searches.isEmpty { lines.append("search " + searches.joined(separator: " ")) }
        lines += servers.prefix(3).map { "nameserver \($0)" }
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
