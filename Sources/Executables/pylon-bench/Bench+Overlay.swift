import Foundation
import Kernel
import KubeAPI
import KubeClient
import NetCore
import Netlink
import Overlay
import OverlayAgent
import PylonTestSupport

extension Bench {
    /// The overlay's figures (docs/benchmarks.md): programming `remotes` remote nodes (neighbour, FDB entry and
    /// route each) through Pylon's netlink code against the same entries through `ip -batch` and `bridge -batch`,
    /// in alternating rounds on fresh namespaces; then a real `pylon overlay` process serving a node among
    /// `remotes` others of a `pylon server`: its resident memory, and how long a joining node takes to be in its
    /// kernel, there and on every node of a `pylon lab`. Remote nodes get /26 subnets of 10.42.0.0/16 and VTEP addresses from the benchmarking range
    /// 198.18.0.0/15, inside the benchmark's own namespaces.
    static func overlayBenchmarks(_ binary: String, remotes: Int, port: Int) async throws -> [(String, String, String)]
    {
        var rows: [(String, String, String)] = []
        var pylon: [Duration] = []
        var reference: [Duration] = []
        for _ in 0..<3 {
            pylon.append(try await programThroughPylon(remotes: remotes))
            reference.append(try await programThroughIproute2(remotes: remotes))
        }
        let ratio = seconds(percentile(pylon, 0.5)) / seconds(percentile(reference, 0.5))
        rows.append(
            (
                "overlay: program \(remotes) remote nodes (neighbour + FDB + route each), 3 rounds",
                String(format: "%.2f× iproute2's time (median)", ratio),
                "Pylon \(ms(percentile(pylon, 0.5))) (netlink, in process); `ip -batch` + `bridge -batch` "
                    + "\(ms(percentile(reference, 0.5))) (goal ≤ 1.0×)"
            ))
        rows += try await overlayProcessBenchmarks(binary, remotes: remotes, port: port)
        rows.append(try await labJoinBenchmark(binary))
        rows += try await throughputBenchmarks()
        return rows
    }

    static func lease(_ k: Int) -> NodeLease {
        let subnet = IPNetwork(address: .v4(0x0A2A_0000 + UInt32(k) * 64), prefixLength: 26)!
        let vtep = IPAddress.v4(0xC612_0000 + UInt32(k / 250) * 256 + UInt32(k % 250 + 1))
        let mac = MACAddress([0x02, 0x42, 0, 0, UInt8(k >> 8), UInt8(k & 0xFF)])
        return NodeLease(
            name: "remote-\(k)", subnet: subnet, publicIP: vtep, backendType: "vxlan",
            vxlan: FlannelAnnotations.VXLANData(vni: 1, vtepMAC: mac))
    }

    /// A namespace with an underlay `lan0` (192.0.2.1/24, a veth whose peer stays in it) and flannel.1.
    static func overlayNode(_ scratch: ScratchNamespaces, _ index: Int) throws -> (OverlayKernel, OverlayPlan.Local) {
        _ = try scratch.ip(index, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
        _ = try scratch.ip(index, "address", "add", "192.0.2.1/24", "dev", "lan0")
        _ = try scratch.ip(index, "link", "set", "lan0", "up")
        _ = try scratch.ip(index, "link", "set", "lan1", "up")
        let kernel = try OverlayKernel(namespace: scratch.namespaces[index])
        guard let underlay = try kernel.underlay(holding: IPAddress("192.0.2.1")!) else {
            throw BenchError("no underlay")
        }
        let device = VXLANDevice(
            backend: OverlayBackend(), ipv6: false, local: IPAddress("192.0.2.1")!, underlay: underlay.index,
            underlayMTU: underlay.mtu, mac: MACAddress("02:42:ff:ff:ff:01")!)
        let (index, _) = try kernel.ensure(device, address: IPAddress("10.42.255.192")!)
        return (
            kernel,
            OverlayPlan.Local(name: "local", underlay: underlay.index, segments: underlay.segments, device: index)
        )
    }

    static func programThroughPylon(remotes: Int) async throws -> Duration {
        try await ScratchNamespaces.run(family: "pylo") { scratch in
            let (kernel, local) = try overlayNode(scratch, 0)
            let conf = NetConf(network: IPNetwork("10.42.0.0/16"))
            let plan = OverlayPlan(conf: conf, local: local, remotes: (0..<remotes).map(lease))
            let start = ContinuousClock.now
            let observed = try kernel.observed(
                devices: [local.device!, local.underlay], networks: [conf.network!], localSubnets: [])
            let failures = kernel.apply(plan.changes(from: observed))
            let elapsed = start.duration(to: .now)
            guard failures.isEmpty else { throw BenchError("Pylon: \(failures.count) changes refused") }
            return elapsed
        }
    }

    static func programThroughIproute2(remotes: Int) async throws -> Duration {
        try await ScratchNamespaces.run(family: "pylo") { scratch in
            _ = try overlayNode(scratch, 0)
            let work = try TemporaryDirectory(prefix: "pylon-bench-overlay")
            var ip = ""
            var bridge = ""
            for k in 0..<remotes {
                let l = lease(k)
                let gateway = l.subnet!.address
                ip += "neigh replace \(gateway) lladdr \(l.vxlan!.vtepMAC) dev flannel.1 nud permanent\n"
                ip += "route replace \(l.subnet!) via \(gateway) dev flannel.1 onlink\n"
                bridge += "fdb replace \(l.vxlan!.vtepMAC) dev flannel.1 dst \(l.publicIP!) self permanent\n"
            }
            try ip.write(toFile: work.path + "/ip", atomically: true, encoding: .utf8)
            try bridge.write(toFile: work.path + "/bridge", atomically: true, encoding: .utf8)
            let start = ContinuousClock.now
            let fdb = try await ChildProcess.run(
                "/usr/sbin/bridge", ["-n", scratch.names[0], "-batch", work.path + "/bridge"])
            let rest = try await ChildProcess.run(
                "/usr/sbin/ip", ["-n", scratch.names[0], "-batch", work.path + "/ip"])
            let elapsed = start.duration(to: .now)
            guard fdb.succeeded, rest.succeeded else {
                throw BenchError("iproute2: \(fdb.standardError) \(rest.standardError)")
            }
            return elapsed
        }
    }

    static func remoteNode(_ k: Int) -> JSON {
        let l = lease(k)
        var annotations: JSON = [:]
        for (key, value) in FlannelAnnotations.published(
            backend: OverlayBackend(), publicIP: l.publicIP, publicIPv6: nil, vtepMAC: l.vxlan?.vtepMAC, vtepMACv6: nil,
            existing: [:])
        {
            annotations[key] = .string(value)
        }
        return [
            "apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(l.name), "annotations": annotations],
            "spec": ["podCIDR": .string(l.subnet!.description), "podCIDRs": [.string(l.subnet!.description)]],
        ]
    }

    /// A `pylon overlay` process for one node among `remotes` others: time until all are in its kernel, its RSS,
    /// and the time from a joining Node's creation to its route in the kernel.
    static func overlayProcessBenchmarks(_ binary: String, remotes: Int, port: Int) async throws -> [(
        String, String, String
    )] {
        try await ScratchNamespaces.run(family: "pylo") { scratch in
            _ = try scratch.ip(0, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
            _ = try scratch.ip(0, "address", "add", "192.0.2.1/24", "dev", "lan0")
            _ = try scratch.ip(0, "link", "set", "lan0", "up")
            _ = try scratch.ip(0, "link", "set", "lan1", "up")
            let work = try TemporaryDirectory(prefix: "pylon-bench-overlay")
            let (server, _) = try await startServer(
                binary, work.path + "/server", port, extra: ["--node-cidr-mask-size-ipv4", "26"])
            defer { server.terminate() }
            var configuration = try KubeConfigLoader(environment: [:]).load(
                kubeconfig: work.path + "/server/kubeconfig.yaml")
            configuration.qps = 0
            let client = try KubeClient(configuration: configuration)
            defer { Task { try? await client.shutdown() } }
            _ = try await client.create(
                .nodes,
                [
                    "apiVersion": "v1", "kind": "Node", "metadata": ["name": "local"],
                    "spec": ["podCIDR": "10.42.255.192/26", "podCIDRs": ["10.42.255.192/26"]],
                    "status": ["addresses": [["type": "InternalIP", "address": "192.0.2.1"]]],
                ])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for k in stride(from: worker, to: remotes, by: 16) {
                            _ = try await client.create(.nodes, remoteNode(k))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try #"{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}"#.write(
                toFile: work.path + "/net-conf.json", atomically: true, encoding: .utf8)
            let kernel = try OverlayKernel(namespace: scratch.namespaces[0])
            func programmed() throws -> Int {
                try kernel.observed(
                    devices: Set(try NetlinkSocket(namespace: scratch.namespaces[0]).links().map(\.index)),
                    networks: [IPNetwork("10.42.0.0/16")!], localSubnets: [IPNetwork("10.42.255.192/26")!]
                ).count
            }
            let start = ContinuousClock.now
            let overlay = try BackgroundProcess(
                binary,
                [
                    "overlay", "--node-name", "local", "--kubeconfig", work.path + "/server/kubeconfig.yaml",
                    "--net-conf", work.path + "/net-conf.json", "--subnet-file", work.path + "/subnet.env",
                    "--cni-conf-dir", work.path + "/net.d", "--netns", "/var/run/netns/\(scratch.names[0])",
                    "--metrics-port", String(port + 1), "--log-level", "warning",
                ])
            children.append(overlay)
            defer { overlay.terminate() }
            var toProgram: Duration?
            while start.duration(to: .now) < .seconds(120) {
                if try programmed() == 3 * remotes {
                    toProgram = start.duration(to: .now)
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            guard let toProgram else { throw BenchError("the overlay did not program \(remotes) nodes in 120 s") }
            let rss = await settledResidentKilobytes(overlay.processIdentifier)
            var joins: [Duration] = []
            for j in 0..<20 {
                let k = remotes + j
                let subnet = lease(k).subnet!
                let created = ContinuousClock.now
                _ = try await client.create(.nodes, remoteNode(k))
                let socket = try NetlinkSocket(namespace: scratch.namespaces[0])
                while created.duration(to: .now) < .seconds(10) {
                    if try socket.routes(.ipv4).contains(where: { $0.destination == subnet }) { break }
                    try await Task.sleep(for: .milliseconds(1))
                }
                joins.append(created.duration(to: .now))
            }
            return [
                (
                    "overlay: `pylon overlay` start to \(remotes) remote nodes in the kernel", ms(toProgram),
                    "from process start (API list included) to \(3 * remotes) entries"
                ),
                (
                    "overlay: RSS of `pylon overlay` with \(remotes) remote nodes", "\(rss / 1024) MB", "goal < 20 MB"
                ),
                (
                    "overlay: node join → route in the kernel (20 joins, \(remotes) nodes)",
                    "p99 \(ms(percentile(joins, 0.99)))", "p50 \(ms(percentile(joins, 0.5))) (goal < 100 ms)"
                ),
            ]
        }
    }

    /// TCP throughput between two nodes (one iperf3 stream, 3 s) straight over their LAN, through the vxlan overlay
    /// (with the checksum workaround, as `pylon overlay` runs it by default, and with the offload kept), and over
    /// host-gw routes.
    static func throughputBenchmarks() async throws -> [(String, String, String)] {
        try await ScratchNamespaces.run(family: "pylo", count: 2) { scratch in
            _ = try scratch.ip(
                0, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", scratch.names[1])
            var kernels: [OverlayKernel] = []
            var locals: [OverlayPlan.Local] = []
            var devices: [VXLANDevice] = []
            for n in 0..<2 {
                _ = try scratch.ip(n, "address", "add", "192.0.2.\(n + 1)/24", "dev", "lan0")
                _ = try scratch.ip(n, "link", "set", "lan0", "up")
                let kernel = try OverlayKernel(namespace: scratch.namespaces[n])
                guard let underlay = try kernel.underlay(holding: IPAddress("192.0.2.\(n + 1)")!) else {
                    throw BenchError("no underlay")
                }
                let device = VXLANDevice(
                    backend: OverlayBackend(), ipv6: false, local: IPAddress("192.0.2.\(n + 1)")!,
                    underlay: underlay.index, underlayMTU: underlay.mtu, mac: MACAddress([2, 0x42, 0, 0, 0, UInt8(n)]))
                let (index, _) = try kernel.ensure(device, address: IPAddress("10.42.\(n).0")!)
                kernels.append(kernel)
                devices.append(device)
                locals.append(
                    OverlayPlan.Local(
                        name: "node\(n)", underlay: underlay.index, segments: underlay.segments, device: index))
                // A pod-network address for host-gw: 10.42.<n>.1 on loopback.
                _ = try scratch.ip(n, "address", "add", "10.42.\(n).1/32", "dev", "lo")
            }
            let leases = (0..<2).map { n in
                NodeLease(
                    name: "node\(n)", subnet: IPNetwork("10.42.\(n).0/24"), publicIP: IPAddress("192.0.2.\(n + 1)"),
                    backendType: "vxlan",
                    vxlan: FlannelAnnotations.VXLANData(vni: 1, vtepMAC: MACAddress([2, 0x42, 0, 0, 0, UInt8(n)])))
            }
            let vxlan = NetConf(network: IPNetwork("10.42.0.0/16"))
            func iperf(_ address: String) async throws -> Double {
                let server = try BackgroundProcess(
                    "/usr/sbin/ip", ["netns", "exec", scratch.names[1], "iperf3", "-s", "-1", "-p", "5299"])
                defer { server.terminate() }
                for _ in 0..<50 {
                    let run = try await ChildProcess.run(
                        "/usr/sbin/ip",
                        ["netns", "exec", scratch.names[0], "iperf3", "-c", address, "-p", "5299", "-t", "3", "-J"])
                    if run.succeeded, let json = try? JSONParser.parse(run.standardOutput),
                        let bits = json["end"]?["sum_received"]?["bits_per_second"]?.doubleValue
                    {
                        return bits / 1e9
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                throw BenchError("iperf3 to \(address) did not run")
            }
            let direct = try await iperf("192.0.2.2")
            for n in 0..<2 {
                _ = kernels[n].apply(OverlayPlan(conf: vxlan, local: locals[n], remotes: leases).changes(from: []))
                _ = try kernels[n].setChecksumOffload(of: devices[n], enabled: false)
            }
            let overVXLAN = try await iperf("10.42.1.0")
            for n in 0..<2 { _ = try kernels[n].setChecksumOffload(of: devices[n], enabled: true) }
            let overVXLANOffload = try await iperf("10.42.1.0")
            for n in 0..<2 {
                _ = try scratch.ip(
                    n, "route", "replace", "10.42.\(1 - n).0/24", "via", "192.0.2.\(2 - n)", "dev", "lan0")
            }
            let overHostGW = try await iperf("10.42.1.1")
            func gbits(_ value: Double) -> String { String(format: "%.1f Gbit/s", value) }
            func ratio(_ value: Double) -> String { String(format: "%.2f× direct", value / direct) }
            return [
                ("overlay: TCP throughput, one stream, node to node directly", gbits(direct), "iperf3 -t 3, veth LAN"),
                (
                    "overlay: TCP throughput over vxlan (checksum workaround on)", ratio(overVXLAN),
                    gbits(overVXLAN) + ", `--vxlan-checksum-offload off` (auto's choice before 5.7 and behind NAT)"
                ),
                (
                    "overlay: TCP throughput over vxlan (offload kept)", ratio(overVXLANOffload),
                    gbits(overVXLANOffload) + ", auto's choice on a fixed kernel"
                ),
                ("overlay: TCP throughput over host-gw", ratio(overHostGW), gbits(overHostGW)),
            ]
        }
    }
}
