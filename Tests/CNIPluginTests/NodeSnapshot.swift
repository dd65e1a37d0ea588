import KubeAPI
import PylonTestSupport

/// What a node and its pods look like after a plugin ran, as comparable text: link attributes, addresses, routes,
/// sysctls, the IPAM store's files, with what differs by nature between two runs (MACs, veth names, interface
/// indexes) left out. Two plugins given the same configuration must leave equal snapshots.
struct NodeSnapshot {
    var facts: [String: String] = [:]

    /// Reads the node namespace `node` (bridge `bridge`) and the pods' namespaces (each with `eth0`), and the store
    /// under `store`.
    static func take(node: String, pods: [String], bridge: String = "cni0", store: String) async throws -> NodeSnapshot
    {
        var snapshot = NodeSnapshot()
        let bridgeLink = try await ip(node, "-d", "link", "show", "dev", bridge).arrayValue?.first
        snapshot.record("bridge", bridgeLink, ["mtu", "operstate", "promiscuity", "txqlen"])
        snapshot.facts["bridge.kind"] = bridgeLink?[path: ["linkinfo", "info_kind"]]?.text
        snapshot.facts["bridge.addresses"] = try await addresses(node, bridge)
        for family in ["-4", "-6"] {
            snapshot.facts["node.routes\(family)"] = try await routes(node, family)
        }
        for (n, pod) in pods.enumerated() {
            let key = "pod\(n + 1)"
            let link = try await ip(pod, "-d", "link", "show", "dev", "eth0").arrayValue?.first
            snapshot.record("\(key).eth0", link, ["mtu", "operstate", "txqlen", "flags"])
            snapshot.facts["\(key).eth0.kind"] = link?[path: ["linkinfo", "info_kind"]]?.text
            snapshot.facts["\(key).eth0.addresses"] = try await addresses(pod, "eth0")
            for family in ["-4", "-6"] {
                snapshot.facts["\(key).routes\(family)"] = try await routes(pod, family)
            }
            for name in ["net.ipv6.conf.eth0.accept_dad", "net.ipv4.conf.eth0.arp_notify"] {
                snapshot.facts["\(key).\(name)"] = try await sysctl(pod, name)
            }
            // The host end: the peer of the pod's eth0.
            if let peer = link?["link_index"]?.intValue {
                let veth = try await ip(node, "-d", "link", "show").arrayValue?.first {
                    $0["ifindex"]?.intValue == peer
                }
                snapshot.record("\(key).veth", veth, ["mtu", "operstate", "txqlen", "master"])
                snapshot.facts["\(key).veth.hairpin"] = veth?[path: ["linkinfo", "info_slave_data", "hairpin"]]?.text
                snapshot.facts["\(key).veth.name"] = veth?["ifname"]?.stringValue.map { "veth + \($0.count - 4) hex" }
            }
        }
        for name in ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.\(bridge).accept_ra"] {
            snapshot.facts["node.\(name)"] = try await sysctl(node, name)
        }
        for (file, content) in try await storeFiles(store) { snapshot.facts["store/\(file)"] = content }
        return snapshot
    }

    mutating func record(_ key: String, _ object: JSON?, _ fields: [String]) {
        for field in fields { facts["\(key).\(field)"] = object?[field]?.text ?? "-" }
    }

    static func ip(_ namespace: String, _ arguments: String...) async throws -> JSON {
        let result = try await ChildProcess.run("/usr/sbin/ip", ["-n", namespace, "-j"] + arguments)
        return (try? JSONParser.parse(result.standardOutput)) ?? .array([])
    }

    /// Global addresses with prefix and broadcast, sorted.
    static func addresses(_ namespace: String, _ device: String) async throws -> String {
        let entries =
            try await ip(namespace, "addr", "show", "dev", device).arrayValue?.first?["addr_info"]?.arrayValue ?? []
        return entries.filter { $0["scope"]?.stringValue == "global" }.map { entry in
            let local = entry["local"]?.text ?? "?"
            let prefix = entry["prefixlen"]?.text ?? "?"
            return "\(local)/\(prefix) brd \(entry["broadcast"]?.text ?? "-")"
        }.sorted().joined(separator: ", ")
    }

    /// Routes of a family without link-local and multicast ones and without device indexes, sorted.
    static func routes(_ namespace: String, _ family: String) async throws -> String {
        let entries = try await ip(namespace, family, "route", "show").arrayValue ?? []
        return entries.compactMap { entry -> String? in
            let destination = entry["dst"]?.text ?? "?"
            if destination.hasPrefix("fe80") || destination.hasPrefix("ff00") { return nil }
            var text = destination
            if let gateway = entry["gateway"]?.text { text += " via \(gateway)" }
            text += " dev \(entry["dev"]?.text ?? "?")"
            if let scope = entry["scope"]?.text { text += " scope \(scope)" }
            if let source = entry["prefsrc"]?.text { text += " src \(source)" }
            if let flags = entry["flags"]?.arrayValue, !flags.isEmpty { text += " \(flags.compactMap(\.stringValue))" }
            return text
        }.sorted().joined(separator: "; ")
    }

    static func sysctl(_ namespace: String, _ name: String) async throws -> String {
        let result = try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", namespace, "sysctl", "-n", name])
        return result.succeeded ? result.standardOutput.trimmed() : "-"
    }

    /// Every file of the store but the lock, with its content.
    static func storeFiles(_ directory: String) async throws -> [String: String] {
        let listing = try await ChildProcess.run("/usr/bin/find", [directory, "-type", "f", "-not", "-name", "lock"])
        var files: [String: String] = [:]
        for path in listing.standardOutput.split(separator: "\n") {
            let content = try await ChildProcess.run("/usr/bin/cat", [String(path)])
            files[String(path.dropFirst(directory.count + 1))] = content.standardOutput.replacingCRLF
        }
        return files
    }
}

extension JSON {
    /// A scalar as text (arrays of scalars joined), for comparison.
    var text: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): String(b)
        case .double(let d): String(d)
        case .array(let items): items.map(\.text).sorted().joined(separator: ",")
        case .null: "null"
        case .object: "{…}"
        }
    }
}

extension String {
    /// CR LF shown as `\r\n`, so a store file's line break is visible in a comparison.
    var replacingCRLF: String { split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\\r\\n") }
}
