import Announcement
import Controller
import Foundation
import KubeAPI
import KubeClient
import NetCore
import PylonTestSupport
import Testing

/// The controller against the embedded API server, configured and inspected with kubectl.
@Suite(.timeLimit(.minutes(5))) struct ControllerIntegrationTests {
    static func path(_ relative: String) -> String { PylonBinary.packageRoot + "/" + relative }

    static func loadBalancer(
        _ name: String, namespace: String = "default", annotations: String = "", extra: String = ""
    ) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: \(namespace)
          annotations: {\(annotations)}
        spec:
          type: LoadBalancer
          ports:
          - {name: http, port: 80}
        \(extra)
        """
    }

    /// Applies `count` LoadBalancer Services named `prefix-0`, `prefix-1`, … with kubectl.
    /// The CRDs, the `metallb-system` namespace and the seed's MetalLB configuration.
    static func applySeedConfiguration(_ server: TestAPIServer) async throws {
        for result in [
            try await server.kubectl("apply", "-k", path("deploy/crds/")),
            try await server.kubectl("create", "namespace", "metallb-system"),
            try await server.kubectl("apply", "-f", path("testdata/metallb-config.yaml")),
        ] {
            try #require(result.status == 0, "\(result.standardError)")
        }
    }

    /// A `pylon controller` process for the configuration in `metallb-system`, with its metrics on a free port.
    static func startController(_ server: TestAPIServer, _ extra: [String] = []) async throws -> (
        process: BackgroundProcess, metricsPort: Int
    ) {
        // A port found free may be taken (by another test's connection) before the controller binds it; the
        // controller then exits, and it is started again on another port. Returns once /healthz answers.
        var attempt = 0
        while true {
            attempt += 1
            let port = try await PylonBinary.freePort()
            let process = try BackgroundProcess(
                PylonBinary.path,
                [
                    "controller", "--kubeconfig", server.kubeconfig, "--namespace", "metallb-system", "--metrics-port",
                    String(port), "--log-level", "warning",
                ] + extra)
            var exited = false
            do {
                try await eventually("the controller's /healthz answers", timeout: .seconds(60)) {
                    exited = !process.isRunning
                    if exited { return true }
                    return try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/healthz"])
                        .standardOutput == "ok"
                }
            } catch {
                process.kill()
                throw error
            }
            if !exited { return (process, port) }
            guard attempt < 3, process.text.contains("in use") else {
                throw TestFailure("the controller exited at start: \(process.text)")
            }
        }
    }

    static func applyLoadBalancers(_ server: TestAPIServer, _ prefix: String, count: Int) async throws {
        for i in 0..<count {
            let result = try await server.kubectl("apply", "-f", "-", input: loadBalancer("\(prefix)-\(i)"))
            try #require(result.status == 0, "\(result.standardError)")
        }
    }

    static func externalIP(_ server: TestAPIServer, _ name: String, namespace: String = "default") async throws
        -> String
    {
        try await server.kubectl(
            "get", "svc", name, "-n", namespace, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"
        ).standardOutput
    }

    @Test func seedWalkthroughAssignsAndRestartsWithoutWrites() async throws {
        try await TestAPIServer.with { server, client in
            try await Self.applySeedConfiguration(server)
            #expect(try await server.kubectl("apply", "-f", Self.path("testdata/traefik-service.yaml")).status == 0)
            #expect(try await server.kubectl("apply", "-f", "-", input: Self.loadBalancer("second")).status == 0)
            let pending = try await server.kubectl("get", "svc", "traefik", "-n", "kube-system")
            #expect(pending.standardOutput.contains("<pending>"))

            var controller = Task {
                await LoadBalancerController(client: client, options: .init(namespace: "metallb-system")).runLoop()
            }
            do {
                try await eventually("traefik gets the first address") {
                    try await Self.externalIP(server, "traefik", namespace: "kube-system") == "10.0.0.100"
                }
                try await eventually("the second Service gets the next one") {
                    try await Self.externalIP(server, "second") == "10.0.0.101"
                }
                let table = try await server.kubectl("get", "services", "--all-namespaces")
                let traefik = try #require(table.standardOutput.split(separator: "\n").first { $0.contains("traefik") })
                #expect(traefik.contains("10.0.0.100"))
                let annotation = try await server.kubectl(
                    "get", "svc", "second", "-o", "jsonpath={.metadata.annotations.metallb\\.io/ip-allocated-from-pool}"
                )
                #expect(annotation.standardOutput == "picluster-pool")
                let describe = try await server.kubectl("describe", "svc", "second")
                #expect(describe.standardOutput.contains("IPAllocated"), "\(describe.standardOutput)")
                try await eventually("pool status counts the two addresses") {
                    try await server.kubectl(
                        "get", "ipaddresspool", "picluster-pool", "-n", "metallb-system", "-o",
                        "jsonpath={.status.assignedIPv4}/{.status.availableIPv4}"
                    ).standardOutput == "2/99"
                }

                // A request outside every pool stays pending, with the reason.
                #expect(
                    try await server.kubectl(
                        "apply", "-f", "-",
                        input: Self.loadBalancer("outside", annotations: "metallb.io/loadBalancerIPs: 192.0.2.7")
                    ).status == 0)
                try await eventually("AllocationFailed names the cause") {
                    try await server.kubectl("describe", "svc", "outside").standardOutput.contains(
                        "requested IP 192.0.2.7 is not in any pool")
                }
                #expect(try await Self.externalIP(server, "outside") == "")

                // Restart: nothing already right is written again.
                controller.cancel()
                await controller.value
                let before = try await client.listAll(.services).items.map {
                    ($0["metadata"]?["name"]?.stringValue ?? "", $0["metadata"]?["resourceVersion"]?.stringValue ?? "")
                }
                controller = Task {
                    await LoadBalancerController(client: client, options: .init(namespace: "metallb-system")).runLoop()
                }
                #expect(try await server.kubectl("apply", "-f", "-", input: Self.loadBalancer("third")).status == 0)
                try await eventually("the restarted controller serves new Services") {
                    try await Self.externalIP(server, "third") == "10.0.0.102"
                }
                let after = try await client.listAll(.services).items.map {
                    ($0["metadata"]?["name"]?.stringValue ?? "", $0["metadata"]?["resourceVersion"]?.stringValue ?? "")
                }
                let unchanged = Dictionary(uniqueKeysWithValues: after)
                for (name, rv) in before { #expect(unchanged[name] == rv, "\(name) was rewritten by the restart") }

                // Deleting a Service frees its address for the next one.
                #expect(try await server.kubectl("delete", "svc", "second").status == 0)
                #expect(try await server.kubectl("apply", "-f", "-", input: Self.loadBalancer("fourth")).status == 0)
                try await eventually("the freed address is reused") {
                    try await Self.externalIP(server, "fourth") == "10.0.0.101"
                }
            } catch {
                controller.cancel()
                throw error
            }
            controller.cancel()
            await controller.value
        }
    }

    @Test func invalidConfigurationKeepsTheLastValidOne() async throws {
        try await TestAPIServer.with { server, client in
            try await Self.applySeedConfiguration(server)
            let controller = Task {
                await LoadBalancerController(client: client, options: .init(namespace: "metallb-system")).runLoop()
            }
            do {
                #expect(try await server.kubectl("apply", "-f", "-", input: Self.loadBalancer("web")).status == 0)
                try await eventually("web assigned") { try await Self.externalIP(server, "web") == "10.0.0.100" }
                let overlapping = """
                    apiVersion: metallb.io/v1beta1
                    kind: IPAddressPool
                    metadata: {name: overlap, namespace: metallb-system}
                    spec: {addresses: [10.0.0.150/32]}
                    """
                #expect(try await server.kubectl("apply", "-f", "-", input: overlapping).status == 0)
                try await eventually("the invalid configuration is reported") {
                    try await server.kubectl("get", "events", "-n", "metallb-system").standardOutput.contains(
                        "InvalidConfiguration")
                }
                try await eventually("ConfigurationState says Invalid") {
                    let state = try await server.kubectl(
                        "get", "configurationstate", "controller", "-n", "metallb-system", "-o",
                        "jsonpath={.status.result}: {.status.errorSummary}"
                    ).standardOutput
                    // Which of the two pools is named first depends on their creation order within one second.
                    return state.hasPrefix("Invalid: IPAddressPool ") && state.contains("\"overlap\"")
                        && state.contains("\"picluster-pool\"") && state.contains(" overlaps ")
                }
                #expect(try await server.kubectl("apply", "-f", "-", input: Self.loadBalancer("next")).status == 0)
                try await eventually("the last valid configuration still assigns") {
                    try await Self.externalIP(server, "next") == "10.0.0.101"
                }
                #expect(try await Self.externalIP(server, "web") == "10.0.0.100", "a typo never revokes a working IP")
                #expect(
                    try await server.kubectl("delete", "ipaddresspool", "overlap", "-n", "metallb-system").status == 0)
                try await eventually("ConfigurationState is Valid again") {
                    try await server.kubectl(
                        "get", "configurationstate", "controller", "-n", "metallb-system", "-o",
                        "jsonpath={.status.result}"
                    ).standardOutput == "Valid"
                }
            } catch {
                controller.cancel()
                throw error
            }
            controller.cancel()
            await controller.value
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct ControllerReplicaTests {
    @Test func twoReplicasOneLeaderNoDoubleAssignment() async throws {
        try await TestAPIServer.with { server, client in
            try await ControllerIntegrationTests.applySeedConfiguration(server)
            let timing = LeaderElector.Timing(
                leaseDuration: .seconds(2), renewDeadline: .seconds(1), retryPeriod: .milliseconds(200))
            func replica(_ name: String) -> LeaderElector {
                let controller = LoadBalancerController(client: client, options: .init(namespace: "metallb-system"))
                return LeaderElector(
                    client: client, namespace: "metallb-system", name: "pylon-controller", identity: name,
                    timing: timing
                ) {
                    await controller.runLoop()
                }
            }
            let a = replica("a")
            let b = replica("b")
            let runA = Task { try await a.run() }
            let runB = Task { try await b.run() }
            do {
                try await eventually("one leader") { a.isLeader != b.isLeader }
                let (leader, leaderTask, follower) = a.isLeader ? (a, runA, b) : (b, runB, a)
                try await ControllerIntegrationTests.applyLoadBalancers(server, "before", count: 5)
                try await eventually("the leader assigned all") {
                    try await client.listAll(.services).items.filter { !ServiceReading.statusIPs($0).isEmpty }.count
                        == 5
                }
                #expect(!follower.isLeader)
                leaderTask.cancel()
                _ = try? await leaderTask.value
                #expect(!leader.isLeader)
                try await eventually("the follower takes over", timeout: .seconds(10)) { follower.isLeader }
                try await ControllerIntegrationTests.applyLoadBalancers(server, "after", count: 5)
                try await eventually("the new leader assigned the rest") {
                    try await client.listAll(.services).items.filter { !ServiceReading.statusIPs($0).isEmpty }.count
                        == 10
                }
                let ips = try await client.listAll(.services).items.flatMap { ServiceReading.statusIPs($0) }
                #expect(ips.count == 10)
                #expect(Set(ips).count == 10, "no address handed out twice: \(ips)")
            } catch {
                runA.cancel()
                runB.cancel()
                throw error
            }
            runA.cancel()
            runB.cancel()
            _ = try? await runA.value
            _ = try? await runB.value
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct ControllerBinaryTests {
    /// Two controller processes: only the leader writes; SIGKILL of the leader (no lease release) hands over once
    /// the lease expires, and no address is handed out twice.
    @Test func killedLeaderIsReplacedWithoutDoubleAssignment() async throws {
        try await TestAPIServer.with { server, client in
            try await ControllerIntegrationTests.applySeedConfiguration(server)
            var replicas: [(process: BackgroundProcess, port: Int)] = []
            defer { for r in replicas { r.process.kill() } }
            for _ in 0..<2 {
                // Short enough for a quick hand-over, long enough that a leader starved of CPU by other suites
                // running beside this one still renews in time.
                let (process, port) = try await ControllerIntegrationTests.startController(
                    server,
                    [
                        "--leader-elect-lease-duration", "6", "--leader-elect-renew-deadline", "4",
                        "--leader-elect-retry-period", "0.5",
                    ])
                replicas.append((process, port))
            }
            func metrics(_ port: Int) async throws -> String {
                try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/metrics"]).standardOutput
            }
            func assigned() async throws -> [String] {
                try await client.listAll(.services).items.flatMap { ServiceReading.statusIPs($0).map(\.description) }
            }
            try await ControllerIntegrationTests.applyLoadBalancers(server, "before", count: 5)
            try await eventually("the leader assigned all five") { try await assigned().count == 5 }
            // Exactly one replica wrote Services.
            var writers: [Int] = []
            for (index, replica) in replicas.enumerated() {
                let text = try await metrics(replica.port)
                if text.contains(#"verb="patch",group="core",resource="services/status""#) { writers.append(index) }
            }
            try #require(writers.count == 1, "only the leader writes: \(writers)")
            let leader = writers[0]
            replicas[leader].process.kill()
            try await ControllerIntegrationTests.applyLoadBalancers(server, "after", count: 5)
            try await eventually("the other replica takes over after the lease expires", timeout: .seconds(40)) {
                try await assigned().count == 10
            }
            let ips = try await assigned()
            #expect(Set(ips).count == 10, "no address handed out twice: \(ips)")
            #expect(Set(ips) == Set((100..<110).map { "10.0.0.\($0)" }))
            let survivor = try await metrics(replicas[1 - leader].port)
            #expect(survivor.contains(#"verb="patch",group="core",resource="services/status""#))
        }
    }

    /// deploy/'s RBAC for the controller grants exactly what it calls, read from its own request counters after a
    /// run that does everything it does: leader election, assigning, a failure Event recorded twice (created, then
    /// patched), an invalid configuration and its repair (ConfigurationState), pool status.
    @Test func theDeployedRBACGrantsExactlyWhatTheControllerCalls() async throws {
        try await TestAPIServer.with { server, client in
            try await ControllerIntegrationTests.applySeedConfiguration(server)
            let (controller, port) = try await ControllerIntegrationTests.startController(
                server, ["--leader-elect-retry-period", "0.5"])
            defer { controller.kill() }
            func used() async throws -> Set<String> {
                DeployedRBAC.used(
                    metrics: try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/metrics"])
                        .standardOutput)
            }
            _ = try await server.kubectl(
                "apply", "-f", ControllerIntegrationTests.path("testdata/traefik-service.yaml"))
            try await eventually("traefik assigned") {
                try await ControllerIntegrationTests.externalIP(server, "traefik", namespace: "kube-system")
                    == "10.0.0.100"
            }
            // A request outside every pool fails; a change to the Service makes it fail again: the same Event twice.
            let outside = try await server.kubectl(
                "create", "service", "loadbalancer", "outside", "--tcp=80:80", "--dry-run=client", "-o", "json")
            var object = try JSONParser.parse(Array(outside.standardOutput.utf8))
            object["spec"]?["loadBalancerIP"] = "192.0.2.1"
            _ = try await client.create(.services, namespace: "default", object)
            try await eventually("the failure Event") {
                try await used().contains("core events create")
            }
            _ = try await server.kubectl("annotate", "service", "outside", "touched=yes")
            // An invalid pool, then the valid configuration again.
            _ = try await server.kubectl(
                "patch", "ipaddresspool", "picluster-pool", "-n", "metallb-system", "--type=merge", "-p",
                #"{"spec":{"addresses":["not-an-address"]}}"#)
            _ = try await server.kubectl("apply", "-f", ControllerIntegrationTests.path("testdata/metallb-config.yaml"))
            let required: Set<String> = [
                "core events patch", "coordination.k8s.io leases update", "metallb.io configurationstates/status patch",
            ]
            try await eventually("the Event patched, the Lease renewed, the configuration state written") {
                try await used().isSuperset(of: required)
            }
            let calls = try await used()
            let granted = try await DeployedRBAC.granted(to: "pylon-controller")
            #expect(
                calls.subtracting(granted).isEmpty, "called without a grant: \(calls.subtracting(granted).sorted())")
            // Granted for a path a run does not take: the annotation metallb.io/ip-allocated-from-pool travels with
            // the status patch; only a server that drops it gets a patch of the Service itself (ServiceWriter).
            let fallbacks: Set<String> = ["core services patch"]
            #expect(
                granted.subtracting(calls).subtracting(fallbacks).isEmpty,
                "granted but never called: \(granted.subtracting(calls).subtracting(fallbacks).sorted())")
            #expect(fallbacks.isSubset(of: granted))
        }
    }

    @Test func binaryServesMetricsAndHealthAndReleasesTheLease() async throws {
        try await TestAPIServer.with { server, client in
            try await ControllerIntegrationTests.applySeedConfiguration(server)
            let (controller, port) = try await ControllerIntegrationTests.startController(server)
            do {
                try await eventually("/readyz answers ok", timeout: .seconds(60)) {
                    try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/readyz"]).standardOutput
                        == "ok"
                }
                #expect(
                    try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/healthz"]).standardOutput
                        == "ok")
                _ = try await server.kubectl(
                    "apply", "-f", ControllerIntegrationTests.path("testdata/traefik-service.yaml"))
                try await eventually("traefik assigned") {
                    try await ControllerIntegrationTests.externalIP(server, "traefik", namespace: "kube-system")
                        == "10.0.0.100"
                }
                try await eventually("metrics show the allocation and the pool") {
                    let metrics = try await ChildProcess.run("curl", ["-sf", "http://127.0.0.1:\(port)/metrics"])
                        .standardOutput
                    return metrics.contains("pylon_allocator_allocations_total 1")
                        && metrics.contains(
                            #"pylon_allocator_addresses_in_use_total{pool="picluster-pool",family="ipv4"} 1"#)
                        && metrics.contains(
                            #"pylon_allocator_addresses_total{pool="picluster-pool",family="ipv4"} 101"#)
                        && metrics.contains("pylon_config_valid 1")
                }
                let lease = try await client.get(.leases, namespace: "metallb-system", name: "pylon-controller")
                let holder = lease["spec"]?["holderIdentity"]?.stringValue ?? ""
                #expect(holder.isEmpty == false)
                await controller.stop()
                #expect(!controller.isRunning)
                let released = try await client.get(.leases, namespace: "metallb-system", name: "pylon-controller")
                #expect(
                    released["spec"]?["holderIdentity"]?.stringValue == "",
                    "SIGTERM releases the lease for the next replica")
            } catch {
                controller.kill()
                throw error
            }
        }
    }
}
