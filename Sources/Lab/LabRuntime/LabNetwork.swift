import FoundationEssentials
import Lab
import Processes

/// Builds and removes a `LabTopology` with `ip`, as root.
///
/// Isolation: methods block on child processes; call them from a thread of their own or a test, never from the
/// cooperative pool of a running daemon. Errors name the `ip` command that failed and its stderr; a failed
/// set-up removes what it created before throwing.
public struct LabNetwork: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let topology: LabTopology
    private let ip: String

    public init(topology: LabTopology, ip: String = "/usr/sbin/ip") {
        self.topology = topology
        self.ip = ip
    }

    /// Creates every namespace, link and address, then runs `additional` `ip` commands (e.g.
    /// `nodeSetUpCommands`); on failure removes everything again and throws.
    public func up(additional: [[String]] = []) throws {
        do {
            for command in topology.setUpCommands() + additional { try run(command) }
        } catch {
            down()
            throw error
        }
    }

    /// Removes the lab; namespaces already gone are fine.
    public func down() {
        let existing = Set(Self.namespaces(ip: ip))
        for command in topology.tearDownCommands() where existing.contains(command[2]) { try? run(command) }
    }

    /// Runs `argv` inside the namespace of `host`; returns its exit status and standard output.
    public func exec(_ host: String, _ argv: [String]) throws(ChildProcess.Failure) -> (status: Int32, output: String) {
        let result = try ChildProcess.run(
            ip, ["netns", "exec", topology.namespace(of: host)] + argv, standardError: .discarded)
        return (result.status, result.standardOutput)
    }

    /// Runs `argv` inside the switch namespace (whose bridge ports are named after the hosts: a frame sent on one
    /// goes straight down that host's cable, past the bridge).
    public func execInSwitch(_ argv: [String]) throws(ChildProcess.Failure) -> (status: Int32, output: String) {
        let result = try ChildProcess.run(
            ip, ["netns", "exec", topology.switchNamespace] + argv, standardError: .discarded)
        return (result.status, result.standardOutput)
    }

    /// Removes namespaces named `<prefixFamily>…` that are older than `age` (leftovers of crashed runs).
    public static func sweep(prefixFamily: String, olderThan age: TimeInterval, ip: String = "/usr/sbin/ip") {
        for name in namespaces(ip: ip) where name.hasPrefix(prefixFamily) {
            let path = "/run/netns/" + name
            let created = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
            guard let created, Date().timeIntervalSince(created) > age else { continue }
            // Processes left inside (a crashed test's daemons) would keep the namespace's links alive.
            ChildProcess.killAll(inNamespace: name, ip: ip)
            _ = try? ChildProcess.run(ip, ["netns", "delete", name], standardError: .discarded)
        }
    }

    /// Names of the network namespaces that exist now.
    public static func namespaces(ip: String = "/usr/sbin/ip") -> [String] {
        guard let listed = try? ChildProcess.run(ip, ["netns", "list"], standardError: .discarded), listed.succeeded
        else { return [] }
        return listed.standardOutput.split(separator: "\n").compactMap {
            $0.split(separator: " ").first.map(String.init)
        }
    }

    private func run(_ argv: [String]) throws {
        let result = try ChildProcess.run(ip, argv, standardError: .merged)
        guard result.succeeded else {
            throw Failure(
                description: "ip \(argv.joined(separator: " ")) failed (\(result.status)): \(result.standardOutput)")
        }
    }
}
