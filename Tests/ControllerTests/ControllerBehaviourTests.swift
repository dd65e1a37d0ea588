import Controller
import KubeAPI
import KubeClient
import PylonTestSupport
import Testing

/// MetalLB's documented behaviours, end to end: configuration and Services applied with kubectl to `pylon server`,
/// a controller running against it, results read back with kubectl.
@Suite(.timeLimit(.minutes(5))) struct ControllerBehaviourTests {
    /// Starts a server with the CRDs and `configuration` applied in `pylon-system`, runs a controller, and stops
    /// both after `body`, also when it throws.
    static func withController(
        _ configuration: String, _ body: (TestAPIServer, KubeClient) async throws -> Void
    ) async throws {
        try await TestAPIServer.with { server, client in
            #expect(
                try await server.kubectl("apply", "-k", ControllerIntegrationTests.path("deploy/crds/")).status == 0)
            _ = try await server.kubectl("create", "namespace", "pylon-system")
            let applied = try await server.kubectl("apply", "-f", "-", input: configuration)
            try #require(applied.status == 0, "\(applied.standardError)")
            let controller = Task { await LoadBalancerController(client: client, options: .init()).runLoop() }
            do {
                try await body(server, client)
            } catch {
                controller.cancel()
                await controller.value
                throw error
            }
            controller.cancel()
            await controller.value
        }
    }

    static func pool(_ name: String, _ addresses: [String], _ extra: String = "") -> String {
        """
        ---
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: \(name), namespace: pylon-system}
        spec:
          addresses: [\(addresses.map { "\"\($0)\"" }.joined(separator: ", "))]
        \(extra.isEmpty ? "" : "  " + extra)
        """
    }

    /// A LoadBalancer Service; `spec` lines are added under `spec:`.
    static func service(
        _ name: String, namespace: String = "default", labels: String = "", annotations: String = "",
        ports: [Int] = [80], spec: [String] = []
    ) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace), labels: {\(labels)}, annotations: {\(annotations)}}
        spec:
          type: LoadBalancer
          selector: {app: \(name)}
          ports: [\(ports.map { "{name: p\($0), port: \($0)}" }.joined(separator: ", "))]
        \(spec.map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static func apply(_ server: TestAPIServer, _ yaml: String) async throws {
        let result = try await server.kubectl("apply", "-f", "-", input: yaml)
        try #require(result.status == 0, "\(result.standardError)")
    }

    /// `status.loadBalancer.ingress[*].ip` and the pool annotation.
    static func assignment(_ server: TestAPIServer, _ name: String, namespace: String = "default") async throws
        -> String
    {
        try await server.kubectl(
            "get", "svc", name, "-n", namespace, "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}@{.metadata.annotations.metallb\\.io/ip-allocated-from-pool}"
        ).standardOutput
    }

    static func waitFor(
        _ server: TestAPIServer, _ name: String, namespace: String = "default", _ expected: String
    ) async throws {
        try await eventually("\(namespace)/\(name) shows \(expected)") {
            try await assignment(server, name, namespace: namespace) == expected
        }
    }

    /// Messages of the Events with `reason` about Service `name`.
    static func events(_ client: KubeClient, _ name: String, reason: String, namespace: String = "default")
        async throws -> [String]
    {
        try await client.listAll(.events, namespace: namespace).items.filter {
            $0["involvedObject"]?["name"]?.stringValue == name && $0["reason"]?.stringValue == reason
        }.compactMap { $0["message"]?.stringValue }
    }

    static func waitForEvent(
        _ client: KubeClient, _ name: String, reason: String, containing text: String, namespace: String = "default"
    ) async throws {
        try await eventually("\(reason) on \(name) says \"\(text)\"") {
            try await events(client, name, reason: reason, namespace: namespace).contains { $0.contains(text) }
        }
    }

    @Test func prioritiesSelectorsDualStackAndSharing() async throws {
        let configuration = [
            Self.pool("gold", ["192.0.2.10-192.0.2.11"], "serviceAllocation: {priority: 10, namespaces: [prod]}"),
            Self.pool(
                "edge", ["203.0.113.8/30"],
                "serviceAllocation: {priority: 5, serviceSelectors: [{matchLabels: {tier: edge}}]}"),
            Self.pool("general", ["198.51.100.0/29", "2001:db8:5::/126"]),
        ].joined(separator: "\n")
        try await Self.withController(configuration) { server, client in
            _ = try await server.kubectl("create", "namespace", "prod")
            // Priorities and namespaces: prod Services fill gold first, then fall back to the general pool.
            for (name, expected) in [
                ("p1", "192.0.2.10@gold"), ("p2", "192.0.2.11@gold"), ("p3", "198.51.100.0@general"),
            ] {
                try await Self.apply(server, Self.service(name, namespace: "prod"))
                try await Self.waitFor(server, name, namespace: "prod", expected)
            }
            // Other namespaces never get gold; a selector-matching Service gets the edge pool.
            try await Self.apply(server, Self.service("d1"))
            try await Self.waitFor(server, "d1", "198.51.100.1@general")
            try await Self.apply(server, Self.service("e1", labels: "tier: edge"))
            try await Self.waitFor(server, "e1", "203.0.113.8@edge")
            // A named pool wins over priorities.
            try await Self.apply(server, Self.service("named", annotations: "metallb.io/address-pool: general"))
            try await Self.waitFor(server, "named", "198.51.100.2@general")

            // Dual-stack: IPv4 first in the status whatever the primary family, as MetalLB writes it.
            try await Self.apply(
                server, Self.service("ds", spec: ["ipFamilyPolicy: RequireDualStack", "ipFamilies: [IPv6, IPv4]"]))
            try await Self.waitFor(server, "ds", "198.51.100.3 2001:db8:5::@general")
            try await Self.apply(server, Self.service("v6", spec: ["ipFamilies: [IPv6]"]))
            try await Self.waitFor(server, "v6", "2001:db8:5::1@general")
            try await Self.apply(server, Self.service("prefer", spec: ["ipFamilyPolicy: PreferDualStack"]))
            try await Self.waitFor(server, "prefer", "198.51.100.4 2001:db8:5::2@general")

            // Sharing: same key, different ports share; the same port again conflicts.
            let shared = "metallb.io/allow-shared-ip: web, metallb.io/loadBalancerIPs: 198.51.100.6"
            try await Self.apply(server, Self.service("http", annotations: shared, ports: [80]))
            try await Self.apply(server, Self.service("https", annotations: shared, ports: [443]))
            try await Self.waitFor(server, "http", "198.51.100.6@general")
            try await Self.waitFor(server, "https", "198.51.100.6@general")
            try await Self.apply(server, Self.service("again", annotations: shared, ports: [80]))
            try await Self.waitForEvent(
                client, "again", reason: "AllocationFailed",
                containing: "IP 198.51.100.6 cannot be shared with default/http: port 80/TCP is used by both")
            #expect(try await Self.assignment(server, "again") == "@")
            // A Service with the key and no requested address joins the shared one.
            try await Self.apply(
                server, Self.service("joiner", annotations: "metallb.io/allow-shared-ip: web", ports: [8080]))
            try await Self.waitFor(server, "joiner", "198.51.100.6@general")
        }
    }

    @Test func everyFailureCauseIsNamed() async throws {
        let configuration = [
            Self.pool("small", ["192.0.2.200/31"]),
            Self.pool("manual", ["192.0.2.210/32"], "autoAssign: false"),
        ].joined(separator: "\n")
        try await Self.withController(configuration) { server, client in
            try await Self.apply(server, Self.service("holder", annotations: "metallb.io/loadBalancerIPs: 192.0.2.200"))
            try await Self.waitFor(server, "holder", "192.0.2.200@small")
            try await Self.apply(server, Self.service("filler"))
            try await Self.waitFor(server, "filler", "192.0.2.201@small")
            let cases: [(String, String, [String], String)] = [
                ("late", "", [], "no available IPs: pool(s) small exhausted"),
                (
                    "thief", "metallb.io/loadBalancerIPs: 192.0.2.200", [],
                    "requested IP 192.0.2.200 is already assigned to default/holder"
                ),
                (
                    "outside", "metallb.io/loadBalancerIPs: 203.0.113.99", [],
                    "requested IP 203.0.113.99 is not in any pool"
                ),
                (
                    "ghost", "metallb.io/address-pool: nowhere", [],
                    "pool \"nowhere\" requested by metallb.io/address-pool does not exist"
                ),
                ("six", "", ["ipFamilies: [IPv6]"], "no pool admitting the service has IPv6 addresses"),
                (
                    "wrongpool", "metallb.io/address-pool: manual, metallb.io/loadBalancerIPs: 192.0.2.201", [],
                    "requested IP 192.0.2.201 is not in the requested pool \"manual\""
                ),
                (
                    "both", "metallb.io/loadBalancerIPs: 192.0.2.210", ["loadBalancerIP: 192.0.2.210"],
                    "loadBalancerIP"
                ),
            ]
            for (name, annotations, spec, message) in cases {
                try await Self.apply(server, Self.service(name, annotations: annotations, spec: spec))
                try await Self.waitForEvent(client, name, reason: "AllocationFailed", containing: message)
                #expect(try await Self.assignment(server, name) == "@", "\(name) stays pending")
            }
            // autoAssign false: only a Service naming the pool gets it.
            try await Self.apply(server, Self.service("manual-user", annotations: "metallb.io/address-pool: manual"))
            try await Self.waitFor(server, "manual-user", "192.0.2.210@manual")
            // Freeing an address serves the oldest pending Service that can use it (MetalLB's e2e "should remove
            // the ip from a service assign it to a free one when": deleting the service, changing its type).
            _ = try await server.kubectl("delete", "svc", "filler")
            try await Self.waitFor(server, "late", "192.0.2.201@small")
            #expect(
                try await server.kubectl(
                    "patch", "svc", "holder", "--type=merge", "-p", #"{"spec":{"type":"ClusterIP"}}"#
                )
                .status == 0)
            try await Self.waitFor(server, "holder", "@")
            try await Self.waitFor(server, "thief", "192.0.2.200@small")
        }
    }

    @Test func poolEditsMoveOnlyWhatTheyMust() async throws {
        try await Self.withController(Self.pool("edit", ["192.0.2.100-192.0.2.103"])) { server, client in
            for (i, name) in ["a", "b", "c", "d"].enumerated() {
                try await Self.apply(server, Self.service(name))
                try await Self.waitFor(server, name, "192.0.2.10\(i)@edit")
            }
            func version(_ name: String) async throws -> String {
                try await server.kubectl("get", "svc", name, "-o", "jsonpath={.metadata.resourceVersion}")
                    .standardOutput
            }
            let (va, vb) = (try await version("a"), try await version("b"))
            try await Self.apply(
                server,
                Self.pool("edit", ["192.0.2.100-192.0.2.101"]) + "\n" + Self.pool("spare", ["198.51.100.8/30"]))
            try await Self.waitFor(server, "c", "198.51.100.8@spare")
            try await Self.waitFor(server, "d", "198.51.100.9@spare")
            try await Self.waitForEvent(client, "c", reason: "IPAllocated", containing: "198.51.100.8")
            #expect(try await version("a") == va, "a keeps its address and is not written")
            #expect(try await version("b") == vb, "b keeps its address and is not written")

            // Deleting a pool clears exactly its Services, with Events.
            _ = try await server.kubectl("delete", "ipaddresspool", "spare", "-n", "pylon-system")
            try await Self.waitFor(server, "c", "@")
            try await Self.waitFor(server, "d", "@")
            try await Self.waitForEvent(client, "d", reason: "AllocationFailed", containing: "exhausted")
            #expect(try await Self.assignment(server, "a") == "192.0.2.100@edit")
            #expect(try await version("a") == va)
        }
    }

    // MARK: The differences to MetalLB found in issue 20 that need a running controller, one test each

    /// 4. A CIDR with host bits is accepted as its network, with a Warning Event on the pool.
    @Test func aCIDRWithHostBitsIsItsNetworkWithAWarning() async throws {
        try await Self.withController(Self.pool("hostbits", ["192.0.2.77/30"])) { server, client in
            try await Self.waitForEvent(
                client, "hostbits", reason: "ConfigurationWarning", containing: "read as 192.0.2.76/30",
                namespace: "pylon-system")
            try await Self.apply(server, Self.service("a"))
            try await Self.waitFor(server, "a", "192.0.2.76@hostbits")
        }
    }

    /// 11. Legacy annotations give MetalLB's Event reason. 3. Removing the request keeps a valid assignment from an
    /// `autoAssign: false` pool.
    @Test func legacyAnnotationsAndARemovedRequest() async throws {
        let configuration = [
            Self.pool("manual", ["198.51.100.8/30"], "autoAssign: false"), Self.pool("auto", ["203.0.113.0/30"]),
        ].joined(separator: "\n")
        try await Self.withController(configuration) { server, client in
            try await Self.apply(server, Self.service("m", annotations: "metallb.universe.tf/address-pool: manual"))
            try await Self.waitFor(server, "m", "198.51.100.8@manual")
            try await Self.waitForEvent(
                client, "m", reason: "deprecatedAnnotation",
                containing: "Service uses deprecated annotation metallb.universe.tf/address-pool")
            #expect(try await server.kubectl("annotate", "svc", "m", "metallb.universe.tf/address-pool-").status == 0)
            // Decisions are made in order: once a later Service has its address, m's edit was decided.
            try await Self.apply(server, Self.service("later"))
            try await Self.waitFor(server, "later", "203.0.113.0@auto")
            #expect(try await Self.assignment(server, "m") == "198.51.100.8@manual", "m kept its address")
        }
    }

    /// 5. The holder changing its sharing terms lets a waiting Service in (MetalLB's e2e "should reconsider services
    /// when sharing the ip and conditions change").
    @Test func aHolderChangingItsSharingTermsLetsAWaitingServiceIn() async throws {
        func shared(_ name: String, port: Int, policy: String) -> String {
            """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: default, annotations: {metallb.io/allow-shared-ip: share}}
            spec: {type: LoadBalancer, selector: {app: shared}, externalTrafficPolicy: \(policy), ports: [{port: \(port)}]}
            """
        }
        try await Self.withController(Self.pool("single", ["203.0.113.5/32"])) { server, client in
            try await Self.apply(server, shared("s1", port: 80, policy: "Cluster"))
            try await Self.apply(server, shared("s2", port: 81, policy: "Cluster"))
            try await Self.waitFor(server, "s1", "203.0.113.5@single")
            try await Self.waitFor(server, "s2", "203.0.113.5@single")
            try await Self.apply(server, shared("s2", port: 81, policy: "Local"))
            try await Self.waitFor(server, "s2", "@")
            try await Self.waitForEvent(client, "s2", reason: "ClearAssignment", containing: "203.0.113.5 withdrawn")
            try await Self.apply(server, shared("s1", port: 80, policy: "Local"))
            try await Self.waitFor(server, "s2", "203.0.113.5@single")
            #expect(try await Self.assignment(server, "s1") == "203.0.113.5@single")
        }
    }

    /// 2. A Namespace relabelled to match a pool's `namespaceSelectors`: its pending Service gets an address.
    @Test func aRelabelledNamespaceServesItsPendingService() async throws {
        let configuration = [
            Self.pool(
                "gold", ["192.0.2.10/32"], "serviceAllocation: {namespaceSelectors: [{matchLabels: {tier: gold}}]}"),
            Self.pool("manual", ["198.51.100.8/30"], "autoAssign: false"),
        ].joined(separator: "\n")
        try await Self.withController(configuration) { server, client in
            _ = try await server.kubectl("create", "namespace", "late")
            try await Self.apply(server, Self.service("waiting", namespace: "late"))
            try await Self.waitForEvent(
                client, "waiting", reason: "AllocationFailed", containing: "no pool matches", namespace: "late")
            #expect(try await server.kubectl("label", "namespace", "late", "tier=gold").status == 0)
            try await Self.waitFor(server, "waiting", namespace: "late", "192.0.2.10@gold")
        }
    }

    /// 6. A Service moved by a pool shrink gets ClearAssignment as well as IPAllocated.
    @Test func aServiceMovedByAPoolShrinkGetsClearAssignment() async throws {
        try await Self.withController(Self.pool("moving", ["192.0.2.20/31"])) { server, client in
            try await Self.apply(server, Self.service("mv"))
            try await Self.waitFor(server, "mv", "192.0.2.20@moving")
            try await Self.apply(server, Self.pool("moving", ["192.0.2.21/32", "192.0.2.22/32"]))
            try await Self.waitFor(server, "mv", "192.0.2.21@moving")
            try await Self.waitForEvent(client, "mv", reason: "ClearAssignment", containing: "192.0.2.20 withdrawn")
            try await Self.waitForEvent(client, "mv", reason: "IPAllocated", containing: "192.0.2.21")
        }
    }

    /// MetalLB's e2e "Pool Status DUALSTACK": the counters follow a Service, a pool expansion and a deletion,
    /// and a hand edit is reverted (10).
    @Test func poolStatusDualStack() async throws {
        let status = Self.pool("status-pool", ["192.168.10.0/30", "fc00:f853:ccd:e799::/126"])
        try await Self.withController(status) { server, client in
            func counters() async throws -> String {
                try await server.kubectl(
                    "get", "ipaddresspool", "status-pool", "-n", "pylon-system", "-o",
                    "jsonpath={.status.availableIPv4} {.status.availableIPv6} {.status.assignedIPv4} {.status.assignedIPv6}"
                ).standardOutput
            }
            func expect(_ text: String) async throws {
                try await eventually("status-pool shows \(text)") { try await counters() == text }
            }
            try await expect("4 4 0 0")
            try await Self.apply(server, Self.service("status-svc", spec: ["ipFamilyPolicy: RequireDualStack"]))
            try await Self.waitFor(server, "status-svc", "192.168.10.0 fc00:f853:ccd:e799::@status-pool")
            try await expect("3 3 1 1")
            try await Self.apply(server, Self.pool("status-pool", ["192.168.10.0/29", "fc00:f853:ccd:e799::/125"]))
            try await expect("7 7 1 1")
            #expect(try await server.kubectl("delete", "svc", "status-svc").status == 0)
            try await expect("8 8 0 0")
            _ = try await client.patch(
                .ipAddressPools, namespace: "pylon-system", name: "status-pool",
                ["status": ["availableIPv4": 5, "availableIPv6": 5, "assignedIPv4": 5, "assignedIPv6": 5]],
                subresource: "status")
            try await expect("8 8 0 0")
        }
    }
}
