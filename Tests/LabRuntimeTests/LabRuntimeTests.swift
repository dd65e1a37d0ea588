import KubeAPI
import Lab
import LoadBalancerConfig
import NetCore
import Testing

@testable import LabRuntime

/// The pure parts of `pylon lab`: node plumbing, the objects it applies and the reading of the client's probe
/// stream.
@Suite struct LabRuntimeTests {
    @Test func nodesGetStrictARPAndLeaveRoutesToTheOverlay() {
        let nodes = ["node-1", "node-2", "node-3"]
        let topology = LabTopology(prefix: "pylab", hosts: nodes + ["client"], management: true)
        let commands = topology.nodeSetUpCommands(nodes: nodes)
        #expect(LabTopology.podSubnet(of: "node-2", nodes: nodes) == IPNetwork("10.42.1.0/24")!)
        #expect(
            commands.contains(["netns", "exec", "pylab-node-1", "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"]))
        #expect(!commands.contains { $0.contains("pylab-client") }, "the client is not a node")
        #expect(!commands.contains { $0.contains("default") }, "no default routes")
        #expect(!commands.contains { $0.contains("route") || $0.contains("addr") }, "pods and routes come later")
    }

    @Test(arguments: [true, false])
    func theLabConfigurationIsAValidMetalLBConfiguration(ipv6: Bool) throws {
        let documents = try YAMLToJSON.documents(LabManifests.configuration(ipv6: ipv6))
        let pools = documents.filter { $0["kind"] == "IPAddressPool" }
        let advertisements = documents.filter { $0["kind"] == "L2Advertisement" }
        let configuration = try Configuration.parse(pools: pools, l2Advertisements: advertisements).get()
        #expect(configuration.pools.count == 1)
        let addresses = pools[0]["spec"]?["addresses"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(
            addresses
                == (ipv6 ? ["192.0.2.100-192.0.2.200", "2001:db8::100-2001:db8::1ff"] : ["192.0.2.100-192.0.2.200"]))
        #expect(advertisements[0]["spec"]?["ipAddressPools"] == ["lab-pool"])
    }

    @Test func theDemoIsAServiceOverDemoPods() {
        let pod = LabManifests.demoPod(2)
        #expect(pod["metadata"]?["name"] == "demo-2" && pod["metadata"]?["labels"] == ["app": "demo"])
        #expect(pod["spec"]?["nodeName"] == nil, "the scheduler places it")
        #expect(
            pod["spec"]?["containers"]?.arrayValue?.first?["ports"] == [
                ["name": "http", "containerPort": 8080, "protocol": "TCP"]
            ])
        let demo = LabManifests.demo(ipv6: false)
        #expect(demo["spec"]?["ipFamilyPolicy"] == "SingleStack" && demo["spec"]?["externalTrafficPolicy"] == "Local")
        #expect(
            demo["spec"]?["selector"] == ["app": "demo"]
                && demo["spec"]?["ports"]?.arrayValue?.first?["targetPort"] == "http")
    }

    @Test func podsGetTheResolvConfKubeletWrites() {
        let pod: JSON = ["metadata": ["namespace": "shop"], "spec": [:]]
        #expect(
            PodSandbox.resolvConf(for: pod)
                == "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"
        )
        var custom = pod
        custom["spec"] = [
            "dnsPolicy": "None",
            "dnsConfig": [
                "nameservers": ["192.0.2.53"], "searches": ["example.test"],
                "options": [["name": "ndots", "value": "2"], ["name": "edns0"]],
            ],
        ]
        #expect(
            PodSandbox.resolvConf(for: custom) == "search example.test\nnameserver 192.0.2.53\noptions ndots:2 edns0\n")
        custom["spec"] = ["dnsPolicy": "Default"]
        #expect(PodSandbox.resolvConf(for: custom) == nil, "the node's own file")
        custom["spec"] = ["hostNetwork": true]
        #expect(PodSandbox.resolvConf(for: custom) == nil)
        custom["spec"] = ["hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"]
        #expect(PodSandbox.resolvConf(for: custom)?.contains("nameserver 10.43.0.10") == true)
        #expect(
            PodSandbox(node: "node-1", podUID: "8f3a01b2-77cd-4e5f-9a0b-1c2d3e4f5a6b").namespace
                == "pylab-node-1-pod-8f3a01b277cd4e5f")
    }

    @Test func aFailoverIsReadFromTheProbeLines() {
        let log = ProbeLog(
            """
            0 ok node-1
            10 ok node-1
            20 ok node-1
            some log noise
            30 fail timeout
            130 fail timeout
            230 ok node-3
            240 ok node-3
            """)
        #expect(log.probes.count == 7)
        let seen = log.failover(from: 3)
        #expect(seen.outageMilliseconds == 210 && seen.failedProbes == 2)
        #expect(seen.switchMilliseconds == 210)
        #expect(seen.answeredBefore == "node-1" && seen.answeredAfter == "node-3")

        let smooth = ProbeLog("0 ok node-1\n10 ok node-1\n20 ok node-2\n30 ok node-2").failover(from: 2)
        #expect(smooth.outageMilliseconds == 0 && smooth.failedProbes == 0 && smooth.switchMilliseconds == 10)

        let never = ProbeLog("0 ok node-1\n10 fail refused\n20 fail refused").failover(from: 1)
        #expect(never.outageMilliseconds == 20 && never.switchMilliseconds == nil && never.answeredAfter == nil)
    }
}
