import Foundation
import Kernel
import KubeClient
import LabRuntime
import NetCore
import Netlink
import Overlay

extension Bench {
    /// Node join in the lab: `pylon lab up` (three nodes, each running `pylon overlay` against the lab's
    /// `pylon server` over the management link), then 20 Nodes created one after another as joining nodes publish
    /// themselves (flannel's annotations and a pod CIDR): the time from each create call's return until its route is
    /// in the kernel of every lab node. The lab is removed afterwards, also on failure.
    static func labJoinBenchmark(_ binary: String) async throws -> (String, String, String) {
        let lab = LabCluster(say: { _ in })
        var options = LabCluster.Options(binary: binary)
        options.directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "pylon-bench-lab-\(UUID().uuidString)"
            ).path
        options.ipv6 = false
        do {
            let state = try await lab.up(options)
            let joins = try await LabCluster.withClient(state) { client in
                let sockets = try state.nodes.map {
                    try NetlinkSocket(namespace: NetworkNamespace(named: "\(LabCluster.prefix)-\($0)"))
                }
                var joins: [Duration] = []
                for k in 900..<920 {  // /26s of 10.42.225.0 and on: clear of the lab nodes' subnets
                    let subnet = lease(k).subnet!
                    let created = ContinuousClock.now
                    _ = try await client.create(.nodes, remoteNode(k))
                    var pending = sockets
                    while !pending.isEmpty, created.duration(to: .now) < .seconds(10) {
                        pending = try pending.filter { socket in
                            try !socket.routes(.ipv4).contains { $0.destination == subnet }
                        }
                        if !pending.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
                    }
                    guard pending.isEmpty else { throw BenchError("node \(k) was not programmed on every lab node") }
                    joins.append(created.duration(to: .now))
                }
                return joins
            }
            await lab.down(directory: options.directory, quiet: true)
            return (
                "overlay: node join → route on all 3 lab nodes (20 joins, `pylon lab`)",
                "p99 \(ms(percentile(joins, 0.99)))", "p50 \(ms(percentile(joins, 0.5))) (goal < 100 ms)"
            )
        } catch {
            await lab.down(directory: options.directory, quiet: true)
            throw error
        }
    }
}
