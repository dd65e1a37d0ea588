import Kernel
import LabRuntime
import Processes

/// Empty network namespaces for one test (root only), made with `ip netns add` and named
/// `<family>-<random>-<n>`, with loopback up. `run` removes them when it returns or throws, after killing what runs
/// inside; leftovers of a crashed run of the same family older than an hour are swept first.
public struct ScratchNamespaces: Sendable {
    /// The namespaces' names, for `ip -n NAME`.
    public let names: [String]

    /// The namespaces, for Pylon's own calls.
    public var namespaces: [NetworkNamespace] { names.map(NetworkNamespace.init(named:)) }

    /// Creates `count` namespaces, runs `body`, removes them.
    /// - Throws: `TestFailure` when `ip` cannot create one, or what `body` throws.
    public static func run<T>(
        family: String, count: Int = 1, _ body: (ScratchNamespaces) async throws -> T
    ) async throws -> T {
        LabNetwork.sweep(prefixFamily: family, olderThan: 3600)
        let stem = "\(family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let scratch = ScratchNamespaces(names: (1...count).map { "\(stem)-\($0)" })
        defer { scratch.remove() }
        for name in scratch.names {
            for command in [["netns", "add", name], ["-n", name, "link", "set", "lo", "up"]] {
                let result = try await ChildProcess.run("/usr/sbin/ip", command)
                guard result.succeeded else {
                    throw TestFailure("ip \(command.joined(separator: " ")): \(result.standardError)")
                }
            }
        }
        return try await body(scratch)
    }

    /// Runs `ip ARGS` in namespace `index` and returns its standard output.
    /// - Throws: `TestFailure` with `ip`'s message when it fails.
    public func ip(_ index: Int, _ arguments: String...) throws -> String {
        let result = try ChildProcess.run("/usr/sbin/ip", ["-n", names[index]] + arguments)
        guard result.succeeded else {
            throw TestFailure("ip -n \(names[index]) \(arguments.joined(separator: " ")): \(result.standardError)")
        }
        return result.standardOutput
    }

    private func remove() {
        for name in names {
            ChildProcess.killAll(inNamespace: name)
            _ = try? ChildProcess.run("/usr/sbin/ip", ["netns", "delete", name], standardError: .discarded)
        }
    }
}
