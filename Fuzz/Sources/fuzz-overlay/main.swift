import FuzzDriver
import KubeAPI
import NetCore
import Overlay

/// What other nodes and the administrator hand the overlay: a Node object (its pod CIDRs and flannel's
/// annotations, written by any node in the cluster) reads into a lease, nothing, or an `OverlayError`; the same bytes
/// as `net-conf.json` read into a configuration or an error. A lease's backend data writes and reads back the same,
/// its subnet lies in the cluster network, and a plan made from it never traps and asks nothing of a kernel that
/// already holds it.
func fuzzOverlay(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let text = String(decoding: input, as: UTF8.self)
    _ = try? NetConf(parsing: text)
    let conf = NetConf(network: IPNetwork("10.42.0.0/16"), ipv6Network: IPNetwork("2001:db8:42::/56"), enableIPv6: true)
    if let node = try? JSONParser.parse(input), let lease = try? NodeLease(node: node, conf: conf) {
        for data in [lease.vxlan, lease.vxlanV6].compactMap({ $0 }) {
            guard (try? FlannelAnnotations.VXLANData(annotation: data.annotation)) == data else {
                fatalError("backend-data did not survive a round trip")
            }
        }
        if let subnet = lease.subnet, !conf.network!.contains(subnet.address) {
            fatalError("a lease outside the cluster network was accepted")
        }
        let local = OverlayPlan.Local(
            name: "fuzz-local", underlay: 2, segments: [IPNetwork("192.0.2.0/24")!], device: 4, deviceV6: 5)
        let plan = OverlayPlan(conf: conf, local: local, remotes: [lease])
        guard plan.changes(from: plan.entries).isEmpty else { fatalError("a kernel holding the plan needs changes") }
    }
    return 0
}

runFuzzer(fuzzOverlay)
