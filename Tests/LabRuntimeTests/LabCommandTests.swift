import Explain
import Files
import Foundation
import KubeAPI
import Lab
import PylonTestSupport
import Testing

@testable import LabRuntime

/// `pylon lab` end to end, as a user runs it (root; CI runs it): up --detach from an installed copy of the binary,
/// status, kubectl, exec, failover both ways, down — and Ctrl-C of a foreground lab — leaving no namespace, mount,
/// link, process or file behind.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct LabCommandTests {
    static func pylon(_ arguments: String...) async throws -> ProcessOutput {
        try await ChildProcess.run(PylonBinary.path, ["lab"] + arguments)
    }

    /// Speaker permissions for paths a lab run does not take every time (ServiceStatusWriter): reading a status
    /// object back when another writer created it first (409 on create), rewriting a ServiceL2Status's MAC
    /// annotation when the announcing interfaces change, and an Event seen again (patched).
    static let speakerFallbacks: Set<String> = [
        "metallb.io servicel2statuses get", "metallb.io servicebgpstatuses get", "metallb.io servicel2statuses update",
        "core events patch",
    ]

    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pylon-test-lab-\(UUID().uuidString)").path
    }

    @Test func aDetachedLabServesTheDemoFailsOverAndGoesAway() async throws {
        try await ManagementSegment.exclusively {
            let directory = Self.directory()
            // Started from an installed copy, outside the checkout: the binary carries the CRDs it applies.
            let installed = directory + "-bin"
            try FileManager.default.createDirectory(atPath: installed, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: installed) }
            // Copied through a close-on-exec descriptor: a process another test spawns meanwhile must not inherit
            // it open for writing (exec of the copy would then fail with "Text file busy").
            let binary = try #require(FileIO.read(PylonBinary.path), "read \(PylonBinary.path)")
            try FileIO.write(binary, to: installed + "/pylon", mode: 0o755)
            var pids: [Int32] = []
            do {
                let up = try await ChildProcess.run(
                    installed + "/pylon", ["lab", "up", "--detach", "--directory", directory])
                #expect(up.status == 0, "\(up.standardOutput)\(up.standardError)")
                #expect(up.standardOutput.contains("EXTERNAL-IP <pending>"), "\(up.standardOutput)")
                #expect(up.standardOutput.contains("got EXTERNAL-IP 192.0.2.100,2001:db8::100"), "\(up.standardOutput)")
                #expect(up.standardOutput.contains("client: curl http://192.0.2.100/ → node-"), "\(up.standardOutput)")
                #expect(up.standardOutput.contains("export KUBECONFIG=\(directory)/server/kubeconfig.yaml"))

                let again = try await Self.pylon("up", "--detach", "--directory", Self.directory())
                #expect(again.status != 0 && again.standardError.contains("a lab is already running"), "\(again)")

                let statusOutput = try await Self.pylon("status", "-o", "json", "--directory", directory)
                let status = try JSONDecoder().decode(
                    LabCluster.Status.self, from: Data(statusOutput.standardOutput.utf8))
                pids = status.daemons.map(\.pid)
                // The server, the controller, the lab's scheduler, and a speaker, an overlay, a proxy and an agent on
                // each of the three nodes.
                #expect(status.daemons.count == 15 && status.daemons.allSatisfy { $0.running }, "\(status.daemons)")
                #expect(up.standardOutput.contains("pylon overlay: every node reaches the others' pod subnets"))
                let demo = try #require(status.services.first { $0.name == "demo" })
                #expect(demo.addresses == ["192.0.2.100", "2001:db8::100"])
                let announcer = try #require(demo.announcedBy)

                let kubectl = try await ChildProcess.run(
                    "kubectl", ["get", "services", "--all-namespaces"], environment: ["KUBECONFIG": status.kubeconfig])
                #expect(kubectl.status == 0, "\(kubectl.standardError)")
                #expect(
                    kubectl.standardOutput.split(separator: "\n").contains {
                        $0.contains("demo") && $0.contains("LoadBalancer") && $0.contains("192.0.2.100,2001:db8::100")
                    }, "\(kubectl.standardOutput)")

                // The client reaches the demo over both families; the announcing node's backend answers
                // (externalTrafficPolicy Local).
                for url in ["http://192.0.2.100/", "http://[2001:db8::100]/"] {
                    let curl = try await Self.pylon(
                        "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "5", url)
                    #expect(curl.status == 0 && curl.standardOutput == "\(announcer)\n", "\(url): \(curl)")
                }
                try await Self.expectRealPods(directory: directory, kubeconfig: status.kubeconfig)
                let flannel = try await Self.pylon(
                    "exec", "--directory", directory, "node-1", "--", "ip", "-d", "address", "show", "flannel.1")
                #expect(
                    flannel.standardOutput.contains("vxlan id 1 local 192.0.2.10 dev eth0")
                        && flannel.standardOutput.contains("inet 10.42.0.0/32 scope global flannel.1"), "\(flannel)")
                let exitCode = try await Self.pylon(
                    "exec", "--directory", directory, "client", "--", "sh", "-c", "exit 7")
                #expect(exitCode.status == 7)
                let noHost = try await Self.pylon("exec", "--directory", directory, "router", "--", "true")
                #expect(noHost.status != 0 && noHost.standardError.contains("no host router"), "\(noHost)")

                // pylon explain, from live state, agrees with the speakers and names the MAC the client sees.
                let explain = try await ChildProcess.run(
                    PylonBinary.path, ["explain", "service", "default/demo", "-o", "json"],
                    environment: ["KUBECONFIG": status.kubeconfig])
                let explanation = try JSONDecoder().decode(Explanation.self, from: Data(explain.standardOutput.utf8))
                let mac = try await Self.pylon(
                    "exec", "--directory", directory, announcer, "--", "cat", "/sys/class/net/eth0/address")
                #expect(explanation.healthy && explanation.announcedBy == announcer, "\(explanation)")
                #expect(
                    explanation.macs == ["eth0": mac.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)])
                let pending = try await ChildProcess.run(
                    "kubectl", ["create", "service", "loadbalancer", "web", "--tcp=80:80"],
                    environment: ["KUBECONFIG": status.kubeconfig])
                #expect(pending.status == 0, "\(pending)")
                _ = try await ChildProcess.run(
                    "kubectl", ["annotate", "service", "web", "metallb.io/loadBalancerIPs=203.0.113.9"],
                    environment: ["KUBECONFIG": status.kubeconfig])
                try await eventually("pylon explain names the cause of web's pending address") {
                    let text = try await ChildProcess.run(
                        PylonBinary.path, ["explain", "service", "web"], environment: ["KUBECONFIG": status.kubeconfig])
                    return text.standardOutput.hasPrefix(
                        "Service default/web: pending: requested IP 203.0.113.9 is not in any pool")
                }

                for mode in ["kill", "link-down"] {
                    let output = try await Self.pylon(
                        "failover", "--mode", mode, "-o", "json", "--directory", directory)
                    #expect(output.status == 0, "\(mode): \(output)")
                    let result = try JSONDecoder().decode(
                        LabCluster.FailoverResult.self, from: Data(output.standardOutput.utf8))
                    // The first drill takes out the node seen above; after it, the restored node may take its
                    // addresses back, which the drill waits out before it starts.
                    if mode == "kill" { #expect(result.from == announcer, "\(result)") }
                    #expect(result.to != result.from && result.to.hasPrefix("node-"), "\(mode): \(result)")
                    #expect(result.client.answeredBefore == result.from && result.client.answeredAfter == result.to)
                    #expect(result.client.switchMilliseconds != nil)
                    if mode == "link-down" { #expect(result.client.failedProbes > 0, "a cut-off node drops requests") }
                }
                let afterKill = try JSONDecoder().decode(
                    LabCluster.Status.self,
                    from: Data(
                        try await Self.pylon("status", "-o", "json", "--directory", directory).standardOutput.utf8))
                #expect(afterKill.daemons.allSatisfy { $0.running }, "the killed speaker was restarted")
                pids += afterKill.daemons.map(\.pid)

                // The announcing node's demo Pod deleted: the node stops announcing (no local endpoint is left for
                // Local traffic) and another node's Pod answers.
                let kubeconfig = ["KUBECONFIG": status.kubeconfig]
                // Settled first: the node restored by the last drill may be taking the address back.
                var before = ""
                try await eventually("one node announces the demo and answers", timeout: .seconds(30)) {
                    let current = try JSONDecoder().decode(
                        LabCluster.Status.self,
                        from: Data(
                            try await Self.pylon("status", "-o", "json", "--directory", directory).standardOutput.utf8))
                    before = current.services.first { $0.name == "demo" }?.announcedBy ?? ""
                    for _ in 0..<5 {
                        let curl = try await Self.pylon(
                            "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "2",
                            "http://192.0.2.100/")
                        guard curl.standardOutput == "\(before)\n" else { return false }
                    }
                    return !before.isEmpty
                }
                let pods = try JSONParser.parse(
                    try await ChildProcess.run(
                        "kubectl", ["get", "pods", "-l", "app=demo", "-o", "json"],
                        environment: kubeconfig
                    ).standardOutput)
                let victim = try #require(
                    pods["items"]?.arrayValue?.first { $0["spec"]?["nodeName"]?.stringValue == before }?["metadata"]?[
                        "name"]?.stringValue)
                let deleted = try await ChildProcess.run("kubectl", ["delete", "pod", victim], environment: kubeconfig)
                #expect(deleted.status == 0, "\(deleted)")
                try await eventually("another node's demo Pod answers the client", timeout: .seconds(30)) {
                    let curl = try await Self.pylon(
                        "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "2", "http://192.0.2.100/"
                    )
                    return curl.status == 0 && curl.standardOutput.hasPrefix("node-")
                        && curl.standardOutput != "\(before)\n"
                }
                for _ in 0..<5 {
                    let curl = try await Self.pylon(
                        "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "2", "http://192.0.2.100/"
                    )
                    #expect(curl.status == 0 && curl.standardOutput != "\(before)\n", "\(curl)")
                }
            } catch {
                _ = try? await Self.pylon("down", "--directory", directory)
                throw error
            }
            let down = try await Self.pylon("down", "--directory", directory)
            #expect(down.status == 0 && down.standardOutput.contains("removed the lab"), "\(down)")
            try Self.expectNothingLeft(directory: directory, pids: pids)
        }
    }

    @Test func ctrlCOfTheREADMECommandRemovesEverything() async throws {
        try await ManagementSegment.exclusively {
            let directory = Self.directory()
            // The README's first command, with the binary under test.
            let lab = try BackgroundProcess(
                PylonBinary.packageRoot + "/scripts/run", ["--directory", directory, "--no-ipv6"],
                environment: ["PYLON_BINARY": PylonBinary.path])
            var pids: [Int32] = []
            do {
                try await lab.waitFor("Ctrl-C removes the lab.", timeout: .seconds(120))
                #expect(lab.text.contains("got EXTERNAL-IP 192.0.2.100\n"), "IPv4 only: \(lab.text)")
                pids = try #require(try LabState.load(directory: directory)).daemons.map(\.pid)
            } catch {
                await lab.stop()
                _ = try? await Self.pylon("down", "--directory", directory)
                throw error
            }
            kill(lab.processIdentifier, SIGINT)
            try await eventually("pylon lab up exits after Ctrl-C", timeout: .seconds(60)) { !lab.isRunning }
            #expect(lab.text.contains("stopping the lab"), "\(lab.text.suffix(500))")
            try Self.expectNothingLeft(directory: directory, pids: pids)
        }
    }

    @Test func withBGPEveryNodeAnnouncesToBIRDAndWithdrawsWhenItStopsOrTheServiceGoes() async throws {
        try await ManagementSegment.exclusively {
            let directory = Self.directory()
            do {
                let up = try await Self.pylon("up", "--detach", "--bgp", "--nodes", "4", "--directory", directory)
                #expect(up.status == 0, "\(up.standardOutput)\(up.standardError)")
                let all = "node-1, node-2, node-3, node-4"
                #expect(up.standardOutput.contains("router: BIRD learnt 192.0.2.100/32 over BGP from \(all)"))
                #expect(up.standardOutput.contains("router: BIRD learnt 2001:db8::100/128 over BGP from \(all)"))
                #expect(up.standardOutput.contains("client: curl http://192.0.2.100/ → node-"))
                #expect(
                    up.standardOutput.contains(" (through the router)"), "the client reaches the demo over BGP routes")
                // BIRD installs the four paths in the router's kernel, which the client's traffic takes.
                let installed = try await Self.pylon(
                    "exec", "--directory", directory, "router", "--", "ip", "route", "show", "192.0.2.100")
                #expect(
                    (10...13).allSatisfy { installed.standardOutput.contains("nexthop via 192.0.2.\($0) ") },
                    "\(installed.standardOutput)")
                let via = try await Self.pylon(
                    "exec", "--directory", directory, "client", "--", "ip", "route", "get", "192.0.2.100")
                #expect(via.standardOutput.contains("via 192.0.2.15 "), "\(via.standardOutput)")
                func paths(_ address: String = "192.0.2.100") async throws -> [String] {
                    let output = try await Self.pylon(
                        "exec", "--directory", directory, "router", "--", "birdc", "show", "route", "for", address,
                        "all")
                    return ["node_1", "node_2", "node_3", "node_4"].filter { output.standardOutput.contains("[\($0) ") }
                }
                let state = try #require(try LabState.load(directory: directory))
                #expect(state.hosts.contains("router") && state.daemons.contains { $0.role == "router" })
                let four = ["node_1", "node_2", "node_3", "node_4"]
                #expect(try await paths() == four, "four paths, one per node")
                #expect(try await paths("2001:db8::100") == four, "IPv6 over MP-BGP too")
                let v6 = try await Self.pylon(
                    "exec", "--directory", directory, "router", "--", "birdc", "show", "route", "for", "2001:db8::100",
                    "all")
                #expect(
                    v6.standardOutput.contains("BGP.next_hop: 2001:db8::a"),
                    "the node's own IPv6 address: \(v6.standardOutput)")
                let metrics = MetricSamples.parse(
                    try await Self.pylon(
                        "exec", "--directory", directory, "node-1", "--", "curl", "-s", "http://127.0.0.1:7473/metrics"
                    ).standardOutput)
                // LAN addresses from .10 on: node-1 … node-4, the client, then the router.
                let router = "{peer=\"192.0.2.15:179\"}"
                #expect(metrics["pylon_bgp_session_up" + router] == 1, "\(metrics.filter { $0.key.contains("bgp") })")
                #expect(metrics["pylon_bgp_prefixes_announced" + router] == 2)
                #expect((metrics["pylon_bgp_updates_sent_total" + router] ?? 0) >= 1)
                let communities = try await Self.pylon(
                    "exec", "--directory", directory, "router", "--", "birdc", "show", "route", "all")
                #expect(communities.standardOutput.contains("BGP.community: (64512,100)"))

                // Every node reports what it announces: a ServiceBGPStatus each, and a nodeAssigned Event.
                func statuses() async throws -> [String: [String]] {
                    let listed = try await ChildProcess.run(
                        "kubectl", ["get", "servicebgpstatuses", "-n", "pylon-system", "-o", "json"],
                        environment: ["KUBECONFIG": state.kubeconfig])
                    let items = try JSONParser.parse(listed.standardOutput)["items"]?.arrayValue ?? []
                    var byNode: [String: [String]] = [:]
                    for item in items where item["status"]?["serviceName"]?.stringValue == "demo" {
                        byNode[item["status"]?["node"]?.stringValue ?? ""] =
                            item["status"]?["peers"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    }
                    return byNode
                }
                try await eventually("a ServiceBGPStatus per node", timeout: .seconds(10)) {
                    try await statuses() == [
                        "node-1": ["router"], "node-2": ["router"], "node-3": ["router"], "node-4": ["router"],
                    ]
                }
                let events = try await ChildProcess.run(
                    "kubectl", ["get", "events", "--field-selector", "reason=nodeAssigned", "-o", "json"],
                    environment: ["KUBECONFIG": state.kubeconfig])
                #expect(
                    events.standardOutput.contains("to BGP peers router with protocol bgp"), "\(events.standardOutput)")

                // A stopped speaker sends Cease, a killed one's connection closes with it: either path goes at
                // once (the 9 s hold time is for a node that vanishes).
                let speaker2 = try #require(state.daemons.first { $0.role == "speaker" && $0.host == "node-2" })
                kill(speaker2.pid, SIGTERM)
                try await eventually("node-2's path is withdrawn", timeout: .seconds(10)) {
                    try await paths() == ["node_1", "node_3", "node_4"]
                }
                let speaker3 = try #require(state.daemons.first { $0.role == "speaker" && $0.host == "node-3" })
                kill(speaker3.pid, SIGKILL)
                try await eventually("node-3's path is withdrawn", timeout: .seconds(30)) {
                    try await paths() == ["node_1", "node_4"]
                }
                // A node that vanishes (its link cut) sends nothing more: BFD tells BIRD, which drops its path
                // without waiting for the 9 s hold time.
                let bfd = try await Self.pylon(
                    "exec", "--directory", directory, "router", "--", "birdc", "show", "bfd", "sessions")
                #expect(
                    bfd.standardOutput.contains("192.0.2.13 ") && bfd.standardOutput.contains(" Up "),
                    "\(bfd.standardOutput)")
                let cut = try await Self.pylon(
                    "exec", "--directory", directory, "node-4", "--", "ip", "link", "set", "eth0", "down")
                #expect(cut.status == 0, "\(cut)")
                try await eventually("node-4's path is withdrawn", timeout: .seconds(40)) {
                    try await paths() == ["node_1"]
                }
                let node4 = try await Self.pylon(
                    "exec", "--directory", directory, "router", "--", "birdc", "show", "protocols", "all", "node_4")
                #expect(node4.standardOutput.contains("BFD session down"), "\(node4.standardOutput)")
                // Deleting the Service withdraws it everywhere.
                let deleted = try await ChildProcess.run(
                    "kubectl", ["delete", "service", "demo"], environment: ["KUBECONFIG": state.kubeconfig])
                #expect(deleted.status == 0, "\(deleted)")
                try await eventually("the route is gone from BIRD", timeout: .seconds(10)) { try await paths().isEmpty }
                try await eventually("running speakers removed their ServiceBGPStatus", timeout: .seconds(10)) {
                    let left = try await statuses()
                    return left["node-1"] == nil && left["node-4"] == nil
                }

                // deploy/'s RBAC for the speaker grants exactly what node-1's speaker called in all of the above
                // (Layer 2 and BGP, statuses written and removed, Events), read from its own request counters.
                let speakerMetrics = try await Self.pylon(
                    "exec", "--directory", directory, "node-1", "--", "curl", "-s", "http://127.0.0.1:7473/metrics")
                let calls = DeployedRBAC.used(metrics: speakerMetrics.standardOutput)
                let granted = try await DeployedRBAC.granted(to: "pylon-speaker")
                #expect(
                    calls.subtracting(granted).isEmpty, "called without a grant: \(calls.subtracting(granted).sorted())"
                )
                #expect(
                    granted.subtracting(calls).subtracting(Self.speakerFallbacks).isEmpty,
                    "granted but never called: \(granted.subtracting(calls).subtracting(Self.speakerFallbacks).sorted())"
                )
                #expect(Self.speakerFallbacks.isSubset(of: granted))
            } catch {
                _ = try? await Self.pylon("down", "--directory", directory)
                throw error
            }
            let down = try await Self.pylon("down", "--directory", directory)
            #expect(down.status == 0)
            #expect(!LabNetwork.namespaces().contains { $0.hasPrefix("pylab-") })
        }
    }

    @Test func withoutRootTheLabSaysSo() async throws {
        let result = try await ChildProcess.run(
            "setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", PylonBinary.path, "lab", "up"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("needs root"), "\(result)")
    }

    /// Real Pods on every node: the demo's, listed by kubectl with their addresses and nodes, each in its own
    /// namespace with kubelet's resolv.conf and an address from its node's IPAM store, reached across nodes over
    /// the overlay; a Pod made with `kubectl run` gets scheduled, an address and answers; its container restarts
    /// when it exits; `kubectl delete pod` stops it and removes its namespace.
    static func expectRealPods(directory: String, kubeconfig: String) async throws {
        let environment = ["KUBECONFIG": kubeconfig]
        func pods() async throws -> [JSON] {
            let listed = try await ChildProcess.run(
                "kubectl", ["get", "pods", "-A", "-o", "json"], environment: environment)
            return try JSONParser.parse(listed.standardOutput)["items"]?.arrayValue ?? []
        }
        let wide = try await ChildProcess.run("kubectl", ["get", "pods", "-A", "-o", "wide"], environment: environment)
        for n in 1...3 {
            #expect(
                wide.standardOutput.split(separator: "\n").contains {
                    $0.contains("demo-") && $0.contains("1/1") && $0.contains("Running")
                        && $0.contains("10.42.\(n - 1).")
                        && $0.contains("node-\(n)")
                }, "\(wide.standardOutput)")
        }
        let demo = try await pods().filter { $0["metadata"]?["labels"]?["app"] == "demo" }
        #expect(Set(demo.compactMap { $0["spec"]?["nodeName"]?.stringValue }) == ["node-1", "node-2", "node-3"])
        for pod in demo {
            let node = try #require(pod["spec"]?["nodeName"]?.stringValue)
            let ip = try #require(pod["status"]?["podIP"]?.stringValue)
            let uid = try #require(pod["metadata"]?["uid"]?.stringValue)
            #expect(pod["status"]?["hostIP"]?.stringValue?.hasPrefix("192.0.2.1") == true)
            // Each node keeps its own subnet.env and IPAM store.
            let subnetEnv = try String(contentsOfFile: "\(directory)/nodes/\(node)/subnet.env", encoding: .utf8)
            #expect(
                subnetEnv.contains("FLANNEL_SUBNET=\(ip.split(separator: ".").prefix(3).joined(separator: ".")).1/24"))
            #expect(FileManager.default.fileExists(atPath: "\(directory)/nodes/\(node)/cni/networks/cbr0/\(ip)"))
            let sandbox = "pylab-\(node)-pod-" + String(uid.filter(\.isHexDigit).prefix(16))
            let resolv = try await ChildProcess.run(
                "/usr/sbin/ip", ["netns", "exec", sandbox, "cat", "/etc/resolv.conf"])
            #expect(resolv.standardOutput.contains("nameserver 10.43.0.10"), "\(sandbox): \(resolv)")
            // From another node, across the overlay.
            let other = node == "node-1" ? "node-2" : "node-1"
            let curl = try await Self.pylon(
                "exec", "--directory", directory, other, "--", "curl", "-s", "-m", "5", "http://\(ip):8080/")
            #expect(curl.status == 0 && curl.standardOutput == "\(node)\n", "\(other) → \(ip): \(curl)")
        }

        // A Service over the same Pods with the default externalTrafficPolicy (Cluster): the announcing node spreads
        // the client's connections over the Pods of every node.
        let spread = """
            apiVersion: v1
            kind: Service
            metadata: {name: spread, namespace: default}
            spec:
              type: LoadBalancer
              selector: {app: demo}
              ports: [{name: http, port: 80, targetPort: http}]

            """
        let applied = try await ChildProcess.run(
            "kubectl", ["apply", "-f", "-"], environment: environment, input: spread)
        #expect(applied.status == 0, "\(applied)")
        var spreadAddress = ""
        try await eventually("spread gets an address", timeout: .seconds(30)) {
            let service = try await ChildProcess.run(
                "kubectl", ["get", "service", "spread", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"],
                environment: environment)
            spreadAddress = service.standardOutput
            return !spreadAddress.isEmpty
        }
        var answeredBy: Set<String> = []
        try await eventually("the client's answers come from the Pods of every node", timeout: .seconds(30)) {
            let curl = try await Self.pylon(
                "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "2", "http://\(spreadAddress)/")
            if curl.status == 0 { answeredBy.insert(curl.standardOutput) }
            return answeredBy == ["node-1\n", "node-2\n", "node-3\n"]
        }
        func fromClient() async throws -> ProcessOutput {
            try await Self.pylon(
                "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "1", "http://\(spreadAddress)/")
        }
        // ClientIP affinity: the client's connections all go to one Pod.
        let sticky = try await ChildProcess.run(
            "kubectl", ["patch", "service", "spread", "-p", #"{"spec":{"sessionAffinity":"ClientIP"}}"#],
            environment: environment)
        #expect(sticky.status == 0, "\(sticky)")
        try await eventually("the client sticks to one Pod", timeout: .seconds(30)) {
            var answers: Set<String> = []
            for _ in 0..<8 { answers.insert(try await fromClient().standardOutput) }
            return answers.count == 1 && answers.first?.hasPrefix("node-") == true
        }
        // Source ranges without the client's: its connections are dropped at the load balancer address.
        let ranges = try await ChildProcess.run(
            "kubectl",
            ["patch", "service", "spread", "-p", #"{"spec":{"loadBalancerSourceRanges":["198.51.100.0/24"]}}"#],
            environment: environment)
        #expect(ranges.status == 0, "\(ranges)")
        try await eventually("another source range blocks the client", timeout: .seconds(30)) {
            try await fromClient().status == 28
        }
        // Its node port answers on every node (source ranges restrict the load balancer address only).
        let nodePort = try await ChildProcess.run(
            "kubectl", ["get", "service", "spread", "-o", "jsonpath={.spec.ports[0].nodePort}"],
            environment: environment)
        for node in ["192.0.2.10", "192.0.2.11", "192.0.2.12"] {
            let curl = try await Self.pylon(
                "exec", "--directory", directory, "client", "--", "curl", "-s", "-m", "2",
                "http://\(node):\(nodePort.standardOutput)/")
            #expect(curl.status == 0 && curl.standardOutput.hasPrefix("node-"), "\(node): \(curl)")
        }
        _ = try await ChildProcess.run("kubectl", ["delete", "service", "spread"], environment: environment)

        // The demo Service (externalTrafficPolicy Local) shows its Pod the client's own address.
        let local = try await Self.pylon(
            "exec", "--directory", directory, "client", "--", "curl", "-s", "-i", "-m", "2", "http://192.0.2.100/")
        #expect(local.standardOutput.contains("X-Client-Address: ::ffff:192.0.2.13"), "\(local)")

        // Pods reach the API through the `kubernetes` Service (pylon proxy, the server's own endpoints).
        let firstPod = try #require(demo.first)
        let firstSandbox =
            "pylab-\(firstPod["spec"]?["nodeName"]?.stringValue ?? "")-pod-"
            + String((firstPod["metadata"]?["uid"]?.stringValue ?? "").filter(\.isHexDigit).prefix(16))
        let version = try await ChildProcess.run(
            "/usr/sbin/ip", ["netns", "exec", firstSandbox, "curl", "-sk", "-m", "5", "https://10.43.0.1/version"])
        #expect(version.standardOutput.contains("gitVersion"), "\(version)")

        let run = try await ChildProcess.run(
            "kubectl", ["run", "web", "--image=nginx", "--port=8080"], environment: environment)
        #expect(run.status == 0, "\(run)")
        var web: JSON = [:]
        try await eventually("kubectl run's Pod is scheduled, running and ready", timeout: .seconds(30)) {
            web = try await pods().first { $0["metadata"]?["name"] == "web" } ?? [:]
            return LabCluster.isReady(web) && web["status"]?["podIP"] != nil
        }
        let webNode = try #require(web["spec"]?["nodeName"]?.stringValue)
        let webIP = try #require(web["status"]?["podIP"]?.stringValue)
        let events = try await ChildProcess.run(
            "kubectl", ["get", "events", "--field-selector", "involvedObject.name=web"], environment: environment)
        #expect(events.standardOutput.contains("Successfully assigned default/web to \(webNode)"), "\(events)")
        let answer = try await Self.pylon(
            "exec", "--directory", directory, "node-3", "--", "curl", "-s", "-m", "5", "http://\(webIP):8080/")
        #expect(answer.standardOutput == "\(webNode)\n", "\(answer)")

        // The container's process ends: it is started again and counted.
        let sandbox =
            "pylab-\(webNode)-pod-"
            + String((web["metadata"]?["uid"]?.stringValue ?? "").filter(\.isHexDigit).prefix(16))
        ChildProcess.killAll(inNamespace: sandbox, signal: SIGKILL)
        try await eventually("the container restarts", timeout: .seconds(30)) {
            let pod = try await pods().first { $0["metadata"]?["name"] == "web" } ?? [:]
            return pod["status"]?["containerStatuses"]?.arrayValue?.first?["restartCount"] == 1
                && LabCluster.isReady(pod)
        }

        let delete = try await ChildProcess.run("kubectl", ["delete", "pod", "web"], environment: environment)
        #expect(delete.status == 0, "\(delete)")
        #expect(try await pods().allSatisfy { $0["metadata"]?["name"] != "web" }, "kubectl waited until it was gone")
        #expect(!LabNetwork.namespaces().contains(sandbox))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/nodes/\(webNode)/cni/networks/cbr0/\(webIP)"))
    }

    static func expectNothingLeft(directory: String, pids: [Int32]) throws {
        #expect(!LabNetwork.namespaces().contains { $0.hasPrefix("pylab-") }, "\(LabNetwork.namespaces())")
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        #expect(!mounts.contains("pylab-"), "no namespace mount left")
        let links = try ChildProcess.run("/usr/sbin/ip", ["-br", "link"]).standardOutput
        #expect(!links.contains("pylab-m"), "\(links)")
        for pid in pids {
            let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                String(decoding: $0, as: UTF8.self)
            }
            #expect(commandLine?.contains("pylon") != true, "process \(pid) is gone")
        }
        #expect(!FileManager.default.fileExists(atPath: directory))
        let etc = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
        #expect(!etc.contains { $0.hasPrefix("pylab-") }, "no Pod resolv.conf left: \(etc)")
    }
}
