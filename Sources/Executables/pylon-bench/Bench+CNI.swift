import Foundation
import PylonTestSupport

extension Bench {
    /// ADD then DEL of `pods` pods through Pylon's plugin and through the reference `bridge` (which runs
    /// `host-local`), each on a node namespace of its own, in two alternating rounds. The timing runs inside the
    /// node (this program again, as `--cni-worker`), so each sample is one plugin process from spawn to exit, with no
    /// `ip netns exec` in it. Peak RSS is the largest of any plugin process (for the reference, `bridge` or the
    /// `host-local` it runs), read by GNU time around one more ADD and DEL.
    static func cniBenchmarks(_ binary: String, pods: Int) async throws -> [(String, String, String)] {
        try await ScratchNamespaces.run(family: "pylb", count: 2 + pods) { scratch in
            let work = try TemporaryDirectory(prefix: "pylon-bench-cni")
            let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let podPaths = scratch.names[2...].map { "/var/run/netns/\($0)" }
            let plugins = [
                ("pylon", binary, "pylon"), ("reference", CNIInvoker.referenceDirectory + "/bridge", "bridge"),
            ]
            var samples: [String: (add: [Duration], delete: [Duration], rss: Int)] = [:]
            for round in 0..<2 {
                for (index, (name, plugin, type)) in plugins.enumerated() {
                    let result = try await ChildProcess.run(
                        "/usr/sbin/ip",
                        [
                            "netns", "exec", scratch.names[index], me, "--cni-worker", plugin, type,
                            "\(work.path)/\(name)",
                        ]
                            + podPaths)
                    guard result.succeeded else {
                        throw BenchError("\(name) round \(round): \(result.standardOutput) \(result.standardError)")
                    }
                    var entry = samples[name] ?? ([], [], 0)
                    for line in result.standardOutput.split(separator: "\n") {
                        let parts = line.split(separator: " ")
                        guard parts.count == 2, let value = Int(parts[1]) else { continue }
                        switch parts[0] {
                        case "add": entry.add.append(.nanoseconds(value))
                        case "del": entry.delete.append(.nanoseconds(value))
                        case "rss": entry.rss = max(entry.rss, value)
                        default: break
                        }
                    }
                    samples[name] = entry
                }
            }
            guard let pylon = samples["pylon"], let reference = samples["reference"] else { return [] }
            func row(_ what: String, _ p: [Duration], _ r: [Duration]) -> (String, String, String) {
                let ratio = seconds(percentile(p, 0.5)) / seconds(percentile(r, 0.5))
                return (
                    "CNI \(what), \(pods) pods × 2 rounds: Pylon vs reference bridge + host-local",
                    String(format: "%.2f× the reference's time (p50)", ratio),
                    "Pylon p50 \(ms(percentile(p, 0.5))), p99 \(ms(percentile(p, 0.99))); reference p50 "
                        + "\(ms(percentile(r, 0.5))), p99 \(ms(percentile(r, 0.99))) (goal ≤ 0.5×)"
                )
            }
            return [
                row("ADD", pylon.add, reference.add), row("DEL", pylon.delete, reference.delete),
                row(
                    "ADD + DEL", zip(pylon.add, pylon.delete).map { $0 + $1 },
                    zip(reference.add, reference.delete).map { $0 + $1 }),
                (
                    "CNI plugin peak RSS (largest plugin process)", "Pylon \(pylon.rss / 1024) MB",
                    "reference \(reference.rss / 1024) MB (goal < 15 MB)"
                ),
            ]
        }
    }

    /// `--cni-worker PLUGIN TYPE STORE NETNS…`, run inside a node namespace: ADD for every pod, then DEL for
    /// every pod, printing `add NANOSECONDS` / `del NANOSECONDS` per call; then ADD and DEL of the first pod again
    /// under GNU time, printing `rss KB`: the largest resident set of the plugin process or one it ran. (Not
    /// `getrusage`: a child spawned with vfork reports its parent's peak as its own.)
    static func cniWorker(_ arguments: [String]) throws {
        guard arguments.count >= 4 else { throw BenchError("usage: --cni-worker PLUGIN TYPE STORE NETNS…") }
        let (plugin, type, store) = (arguments[0], arguments[1], arguments[2])
        let config = """
            {"cniVersion":"1.0.0","name":"cbr0","type":"\(type)","bridge":"cni0","isGateway":true,
             "isDefaultGateway":true,"hairpinMode":true,"forceAddress":true,"mtu":1450,
             "ipam":{"type":"host-local","ranges":[[{"subnet":"10.42.0.0/24"}]],"routes":[{"dst":"10.42.0.0/16"}],
                     "dataDir":"\(store)"}}
            """
        for command in ["ADD", "DEL"] {
            for (n, netns) in arguments[3...].enumerated() {
                let environment = [
                    "CNI_COMMAND": command, "CNI_CONTAINERID": "bench-\(n)", "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
                    "CNI_PATH": CNIInvoker.referenceDirectory,
                ]
                let start = ContinuousClock.now
                let result = try ChildProcess.run(plugin, [], environment: environment, input: config)
                let elapsed = start.duration(to: .now)
                guard result.succeeded else { throw BenchError("\(command) \(netns): \(result.standardOutput)") }
                let nanoseconds =
                    elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
                print("\(command == "ADD" ? "add" : "del") \(nanoseconds)")
            }
        }
        for command in ["ADD", "DEL"] {
            let environment = [
                "CNI_COMMAND": command, "CNI_CONTAINERID": "bench-rss", "CNI_NETNS": String(arguments[3]),
                "CNI_IFNAME": "eth0", "CNI_PATH": CNIInvoker.referenceDirectory,
            ]
            let measured = try ChildProcess.run(
                "/usr/bin/time", ["-f", "rss %M", plugin], environment: environment, input: config)
            guard measured.succeeded else { throw BenchError("\(command) under time: \(measured.standardOutput)") }
            print(measured.standardError.split(separator: "\n").last { $0.hasPrefix("rss ") } ?? "rss 0")
        }
    }
}
