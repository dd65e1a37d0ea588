import FoundationEssentials
import Glibc
import KubeAPI
import KubeClient
import Lab
import Logging
import NetCore
import Processes

/// `pylon lab`: the whole load balancer on a virtual bare-metal LAN in network namespaces — nodes and a client on
/// one Ethernet segment, a management link to the machine, `pylon server` on that link, the controller and the lab's
/// scheduler, a speaker, `pylon overlay`, `pylon proxy` and an agent (a kubelet stand-in) per node, the seed's
/// configuration and a demo Service backed by a Pod on every node.
///
/// Isolation: methods block on child processes between awaits; call them from a command's main task. Errors say
/// what failed; a failed `up` removes everything it created. Only one lab runs at a time (its namespaces are
/// `pylab-*` and its management address is fixed).
public struct LabCluster: Sendable {
    public struct Options: Sendable {
        public var nodes = 3
        public var ipv6 = true
        /// Add a `router` host running BIRD that peers with every node in BGP.
        public var bgp = false
        /// Where the state, the server's data and the logs go.
        public var directory = LabCluster.defaultDirectory
        /// The `pylon` executable to run the daemons with.
        public var binary: String
        /// Directory of the metallb.io CRDs to apply instead of the ones built into the binary (`EmbeddedCRDs`).
        public var crds: String?
        public var apiPort = 6443

        public init(binary: String) { self.binary = binary }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static let defaultDirectory = "/run/pylon-lab"
    public static let prefix = "pylab"
    static let ip = "/usr/sbin/ip"
    static let nsenter = "/usr/bin/nsenter"

    /// Progress lines for the user.
    let say: @Sendable (String) -> Void

    public init(say: @escaping @Sendable (String) -> Void) { self.say = say }

    // MARK: Up

    /// Builds and starts a lab, applies the configuration and the demo, and returns once the demo Service has an
    /// address that the client reaches over HTTP.
    /// - Throws: `Failure` (not root, `ip` missing, a lab already running, a step that did not finish in time);
    ///   everything created is removed first.
    public func up(_ options: Options) async throws -> LabState {
        try Self.preflight()
        if let existing = try? LabState.load(directory: options.directory),
            existing.daemons.contains(where: { ChildProcess.isRunning($0.pid, marker: existing.binary) })
        {
            throw Failure("a lab is already running (see `pylon lab status`; `pylon lab down` removes it)")
        }
        // Another lab (maybe with another state directory) still has processes in its namespaces.
        for namespace in LabNetwork.namespaces(ip: Self.ip) where namespace.hasPrefix(Self.prefix + "-") {
            if let listed = try? await ChildProcess.run(
                Self.ip, ["netns", "pids", namespace], standardError: .discarded),
                !listed.standardOutput.trimmed().isEmpty
            {
                throw Failure("a lab is already running in namespace \(namespace) (`pylon lab down` removes it)")
            }
        }
        guard (1...9).contains(options.nodes) else { throw Failure("--nodes must be between 1 and 9") }
        let crds = try options.crds.map(Self.readCRDs) ?? EmbeddedCRDs.files.map(\.yaml)
        await down(directory: options.directory, quiet: true)
        try FileManager.default.createDirectory(
            atPath: options.directory + "/logs", withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        chmod(options.directory, 0o700)

        let nodes = (1...options.nodes).map { "node-\($0)" }
        let topology = LabTopology(
            prefix: Self.prefix, hosts: nodes + ["client"] + (options.bgp ? ["router"] : []), management: true)
        let network = LabNetwork(topology: topology, ip: Self.ip)
        let kubeconfig = options.directory + "/server/kubeconfig.yaml"
        var state = LabState(
            prefix: Self.prefix, nodes: nodes, ipv6: options.ipv6, directory: options.directory,
            kubeconfig: kubeconfig, binary: options.binary)
        state.bgp = options.bgp
        do {
            say(
                "building the LAN: \(nodes.joined(separator: ", ")) and client on 192.0.2.0/24"
                    + (options.ipv6 ? " and 2001:db8::/64" : "") + ", management link 198.18.0.0/24")
            try network.up(
                additional: topology.nodeSetUpCommands(nodes: nodes)
                    + (options.bgp
                        ? topology.routerSetUpCommands(
                            router: "router", client: "client", prefixes: LabManifests.poolPrefixes(ipv6: options.ipv6))
                        : []))
            try state.save()
            try await startServer(&state, options)
            try await Self.withClient(state) { client in
                try await configure(client, state: state, topology: topology, crds: crds)
                if options.bgp { try await startRouter(&state, client, topology: topology) }
                try startDaemons(&state, topology: topology)
                try await waitForOverlay(state: state, topology: topology)
                try await showDemo(client, state: state, topology: topology)
            }
            return state
        } catch {
            say("setting up the lab failed: \(error); removing it")
            for daemon in state.daemons.reversed() {
                say("---- last lines of \(daemon.log)\n" + Self.tail(daemon.log, lines: 15))
            }
            await down(directory: options.directory, quiet: true)
            throw error
        }
    }

    static func preflight() throws {
        guard geteuid() == 0 else {
            throw Failure("the lab creates network namespaces and needs root: run it with sudo")
        }
        guard FileManager.default.isExecutableFile(atPath: ip) else {
            throw Failure("\(ip) is missing: install iproute2 (apt-get install iproute2)")
        }
        guard FileManager.default.isExecutableFile(atPath: nsenter) else {
            throw Failure("\(nsenter) is missing: install util-linux (apt-get install util-linux)")
        }
    }

    /// The router host: BIRD (AS 64500) peering passively with every node (AS 64512) over the LAN and installing
    /// what it learns in its kernel (several nodes for one address: equal-cost multipath), so the client's traffic
    /// for the pool, routed through it, goes to an announcing node. Each session is signed with TCP-MD5 (a password
    /// made for this lab, in a Secret the BGPPeer names) and watched by BFD (300 ms × 3: a node that goes silent
    /// loses its path in under a second; BIRD takes it back 1–10 s after it returns); and the BGPPeer, BFDProfile
    /// and BGPAdvertisement that make the nodes announce the pool to it.
    private func startRouter(_ state: inout LabState, _ client: KubeClient, topology: LabTopology) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/bird") else {
            throw Failure("--bgp needs BIRD 2: install it (apt-get install bird2)")
        }
        let router = topology.addresses(of: "router")
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let password = String((0..<24).map { _ in alphabet.randomElement()! })
        var protocols = ""
        for node in state.nodes {
            protocols += """
                protocol bgp \(node.replacing("-", with: "_")) {
                  local \(router.v4) as 64500;
                  neighbor \(topology.addresses(of: node).v4) as 64512;
                  passive on;
                  password "\(password)";
                  bfd on;
                  error wait time 1, 10;
                  ipv4 { import all; export none; };
                  ipv6 { import all; export none; };
                }

                """
        }
        let kernel = """
            protocol kernel kernel4 { ipv4 { export all; }; merge paths on; }
            protocol kernel kernel6 { ipv6 { export all; }; merge paths on; }

            """
        let bfd = """
            protocol bfd { interface "*" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; }; }

            """
        let configuration = "router id \(router.v4);\nprotocol device { scan time 1; }\n" + kernel + bfd + protocols
        guard
            FileManager.default.createFile(
                atPath: state.directory + "/bird.conf", contents: Data(configuration.utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw Failure("cannot write \(state.directory)/bird.conf") }
        // BIRD's default control socket, so that `pylon lab exec router -- birdc show route` works as is.
        try FileManager.default.createDirectory(atPath: "/run/bird", withIntermediateDirectories: true)
        try spawn(
            &state, role: "router", host: "router",
            [
                Self.ip, "netns", "exec", topology.namespace(of: "router"), "/usr/sbin/bird", "-f", "-c",
                state.directory + "/bird.conf",
            ])
        let manifests = LabManifests.bgpConfiguration(router: router.v4.description, password: password)
        for document in try YAMLToJSON.documents(manifests) {
            let resource: Resource =
                switch document["kind"]?.stringValue {
                case "Secret": .secrets
                case "BGPPeer": .bgpPeers
                case "BFDProfile": .bfdProfiles
                default: .bgpAdvertisements
                }
            _ = try await client.create(resource, document)
        }
        say("started BIRD on router (\(router.v4), AS 64500) and applied a BGPPeer and a BGPAdvertisement for it")
    }

    /// The text of every `*.yaml` file in `directory` (`--crds`), in name order.
    /// - Throws: `Failure` when the directory cannot be read or holds no YAML file.
    static func readCRDs(_ directory: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
                .sorted()
        } catch {
            throw Failure("cannot read the CRDs in \(directory): \(error)")
        }
        guard !names.isEmpty else { throw Failure("no .yaml file in \(directory) (--crds)") }
        return try names.map { name in
            do {
                return try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            } catch {
                throw Failure("cannot read \(directory)/\(name): \(error)")
            }
        }
    }

    private func startServer(_ state: inout LabState, _ options: Options) async throws {
        let address = LabTopology.managementHost.description
        try spawn(
            &state, role: "server", host: "host",
            [
                options.binary, "server", "--data-dir", options.directory + "/server", "--bind-address", address,
                "--advertise-address", address, "--port", String(options.apiPort), "--service-cidr",
                "10.43.0.0/16,2001:db8:43::/112", "--cluster-cidr", Self.clusterCIDR(ipv6: options.ipv6),
            ])
        say("starting pylon server on https://\(address):\(options.apiPort)")
        try await Self.waitUntil("pylon server writes its kubeconfig", timeout: .seconds(30)) {
            FileManager.default.fileExists(atPath: state.kubeconfig)
        }
    }

    /// CRDs, the configuration namespace and membership Secret, the pool and L2Advertisement, the Nodes.
    private func configure(_ client: KubeClient, state: LabState, topology: LabTopology, crds: [String]) async throws {
        for file in crds {
            // (A kustomization.yaml in a --crds directory, which lists them for `kubectl apply -k`, is not one.)
            for document in try YAMLToJSON.documents(file)
            where document["kind"]?.stringValue == "CustomResourceDefinition" {
                _ = try await client.create(Self.customResourceDefinitions, document)
            }
        }
        _ = try await client.create(
            .namespaces,
            ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(LabManifests.namespace)]])
        try await Self.waitUntil("the metallb.io CRDs are served", timeout: .seconds(30)) {
            (try? await client.list(.l2Advertisements, namespace: LabManifests.namespace)) != nil
        }
        var key = [UInt8](repeating: 0, count: 32)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        _ = try await client.create(
            .secrets, namespace: LabManifests.namespace,
            [
                "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "memberlist"],
                "data": ["secretkey": .string(Base64.encode(key))],
            ])
        let configuration = LabManifests.configuration(ipv6: state.ipv6)
        try configuration.write(toFile: state.directory + "/metallb-config.yaml", atomically: false, encoding: .utf8)
        for document in try YAMLToJSON.documents(configuration) {
            let resource: Resource =
                document["kind"]?.stringValue == "IPAddressPool" ? .ipAddressPools : .l2Advertisements
            _ = try await client.create(resource, document)
        }
        say(
            "applied the seed's MetalLB configuration: pool 192.0.2.100-192.0.2.200"
                + (state.ipv6 ? " and 2001:db8::100-2001:db8::1ff" : "") + ", L2Advertisement")
        for node in state.nodes {
            let lan = topology.addresses(of: node)
            let (object, status) = LabManifests.node(node, addresses: state.ipv6 ? [lan.v4, lan.v6] : [lan.v4])
            var created = try await client.create(.nodes, object)
            created["status"] = status
            _ = try await client.updateStatus(.nodes, created)
        }
    }

    static let customResourceDefinitions = Resource(
        group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition", namespaced: false)

    /// The controller and the lab's scheduler and EndpointSlice writer on the machine; a speaker, the overlay and
    /// an agent in every node. The agent enters only the node's network namespace (`nsenter`, where the others run
    /// under `ip netns exec`, which also gives them a mount namespace of their own), so that the Pod namespaces it
    /// makes are mounted where `ip netns` and `pylon lab down` see them.
    private func startDaemons(_ state: inout LabState, topology: LabTopology) throws {
        let binary = state.binary
        let kubeconfig = state.kubeconfig
        let netConf = state.directory + "/net-conf.json"
        let v6 = state.ipv6 ? #","IPv6Network":"\#(LabTopology.podNetworkIPv6)","EnableIPv6":true"# : ""
        try #"{"Network":"\#(LabTopology.podNetwork)"\#(v6),"Backend":{"Type":"vxlan"}}"#.write(
            toFile: netConf, atomically: true, encoding: .utf8)
        try spawn(
            &state, role: "controller", host: "host",
            [
                binary, "controller", "--kubeconfig", kubeconfig, "--namespace", LabManifests.namespace,
                "--no-leader-elect", "--metrics-port", "0",
            ])
        try spawn(&state, role: "control", host: "host", [binary, "lab", "control", "--kubeconfig", kubeconfig])
        for node in state.nodes {
            let inNode = [Self.ip, "netns", "exec", topology.namespace(of: node), binary]
            let files = "\(state.directory)/nodes/\(node)"
            try spawn(
                &state, role: "speaker", host: node,
                inNode + [
                    "speaker", "--kubeconfig", kubeconfig, "--node-name", node, "--namespace", LabManifests.namespace,
                    "--interface", "eth0",
                ])
            try spawn(
                &state, role: "overlay", host: node,
                inNode + [
                    "overlay", "--kubeconfig", kubeconfig, "--node-name", node, "--net-conf", netConf,
                    "--subnet-file", "\(files)/subnet.env", "--cni-conf-dir", "\(files)/net.d", "--cni-data-dir",
                    "\(files)/cni", "--metrics-port", "7474",
                ])
            try spawn(
                &state, role: "proxy", host: node,
                inNode + [
                    "proxy", "--kubeconfig", kubeconfig, "--node-name", node, "--cluster-cidr",
                    Self.clusterCIDR(ipv6: state.ipv6), "--metrics-port", "10249",
                ])
            try spawn(
                &state, role: "agent", host: node,
                [
                    Self.nsenter, "--net=/var/run/netns/\(topology.namespace(of: node))", "--", binary, "lab", "agent",
                    "--kubeconfig", kubeconfig, "--node-name", node, "--cni-conf-dir", "\(files)/net.d",
                    "--pod-log-dir", "\(state.directory)/logs/pods",
                ])
        }
        say(
            "started pylon controller, the lab's scheduler, and pylon speaker, pylon overlay, pylon proxy and a "
                + "kubelet stand-in on each node")
    }

    /// Waits until every node's overlay routes the other nodes' pod subnets through `flannel.1`.
    private func waitForOverlay(state: LabState, topology: LabTopology) async throws {
        try await Self.waitUntil("every node's pylon overlay routes to the other nodes' pods", timeout: .seconds(30)) {
            for node in state.nodes {
                let routes = try await ChildProcess.run(Self.ip, ["-n", topology.namespace(of: node), "route", "show"])
                for other in state.nodes where other != node {
                    let prefix = LabTopology.podSubnet(of: other, nodes: state.nodes)
                    guard routes.standardOutput.contains("\(prefix) via \(prefix.address) dev flannel.1 onlink") else {
                        return false
                    }
                }
            }
            return true
        }
        say("pylon overlay: every node reaches the others' pod subnets over flannel.1 (VXLAN)")
    }

    /// Starts a daemon and records it in the state file at once (so `down` finds it whatever happens next).
    func spawn(_ state: inout LabState, role: String, host: String, _ argv: [String]) throws {
        let log = "\(state.directory)/logs/\(role)\(host == "host" ? "" : "-" + host).log"
        let pid = try ChildProcess.spawnDaemon(argv, log: log)
        state.daemons.removeAll { $0.role == role && $0.host == host }
        state.daemons.append(.init(role: role, host: host, pid: pid, log: log, argv: argv))
        try state.save()
    }

    /// Creates the demo Service and tells its story: pending, an address, the announcing node, the client's answer.
    private func showDemo(_ client: KubeClient, state: LabState, topology: LabTopology) async throws {
        for index in 1...state.nodes.count {
            _ = try await client.create(.pods, namespace: "default", LabManifests.demoPod(index))
        }
        var pods: [JSON] = []
        try await Self.waitUntil("the demo Pods run and are ready", timeout: .seconds(60)) {
            pods =
                try await client.list(.pods, namespace: "default", labelSelector: "app=demo")["items"]?.arrayValue
                ?? []
            return pods.count == state.nodes.count && pods.allSatisfy(Self.isReady)
        }
        for pod in pods {
            let name = pod["metadata"]?["name"]?.stringValue ?? ""
            let addresses = (pod["status"]?["podIPs"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
            say(
                "pod default/\(name) runs on \(pod["spec"]?["nodeName"]?.stringValue ?? "?") at "
                    + addresses.joined(separator: ", "))
        }
        _ = try await client.create(.services, namespace: "default", LabManifests.demo(ipv6: state.ipv6))
        say("created Service default/demo (type LoadBalancer, port 80, selector app=demo): EXTERNAL-IP <pending>")
        var addresses: [String] = []
        try await Self.waitUntil("the controller assigns default/demo an address", timeout: .seconds(30)) {
            addresses = Self.ingress(try await client.get(.services, namespace: "default", name: "demo"))
            return addresses.count == (state.ipv6 ? 2 : 1)
        }
        say("default/demo got EXTERNAL-IP \(addresses.joined(separator: ","))")
        var announcer = ""
        try await Self.waitUntil("a speaker announces default/demo", timeout: .seconds(30)) {
            announcer = try await Self.announcer(client, service: "demo") ?? ""
            return !announcer.isEmpty
        }
        say("\(announcer) answers ARP/NDP for \(addresses.joined(separator: " and ")) (ServiceL2Status)")
        if state.bgp == true {
            for address in addresses {
                var learnt: [String] = []
                try await Self.waitUntil("BIRD on router learns \(address) from every node", timeout: .seconds(30)) {
                    let output =
                        (try? await ChildProcess.run(
                            Self.ip,
                            [
                                "netns", "exec", topology.namespace(of: "router"), "birdc", "show", "route", "for",
                                address, "all",
                            ], standardError: .merged))?.standardOutput ?? ""
                    learnt = state.nodes.filter { output.contains("[\($0.replacing("-", with: "_")) ") }
                    return learnt.count == state.nodes.count
                }
                let length = address.contains(":") ? 128 : 32
                say("router: BIRD learnt \(address)/\(length) over BGP from \(learnt.joined(separator: ", "))")
            }
        }
        for address in addresses {
            var outcome = HTTPProbe.Outcome.failed("not tried")
            try await Self.waitUntil("the client gets an HTTP answer from \(address)", timeout: .seconds(30)) {
                outcome = try await probeFromClient(state, address: address)
                if case .answered = outcome { return true }
                return false
            }
            if case .answered(let body) = outcome {
                let url = address.contains(":") ? "http://[\(address)]/" : "http://\(address)/"
                say("client: curl \(url) → \(body)\(state.bgp == true ? " (through the router)" : "")")
            }
        }
    }

    /// One HTTP GET from the client host (through `pylon lab probe` run in its namespace).
    func probeFromClient(_ state: LabState, address: String) async throws -> HTTPProbe.Outcome {
        let (status, output): (Int32, String)
        do {
            let result = try await ChildProcess.run(
                Self.ip,
                ["netns", "exec", "\(state.prefix)-client", state.binary, "lab", "probe", address, "--count", "1"],
                standardError: .merged)
            (status, output) = (result.status, result.standardOutput)
        } catch {
            (status, output) = (127, error.description)
        }
        guard status == 0,
            let line = output.split(separator: "\n").first(where: { $0.contains(" ok ") || $0.contains(" fail ") })
        else { return .failed(output) }
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        return words[1] == "ok" ? .answered(words.count > 2 ? words[2] : "") : .failed(words.count > 2 ? words[2] : "")
    }

    /// Runs `body` with a client of the lab's API server (quiet: the lab reports failures itself), closed after.
    public static func withClient<T>(_ state: LabState, _ body: (KubeClient) async throws -> T) async throws -> T {
        let client = try KubeClient(
            configuration: try KubeConfigLoader(environment: [:]).load(kubeconfig: state.kubeconfig),
            logger: Logger(label: "pylon.lab", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The pod networks: K3s' 10.42.0.0/16, and with IPv6 2001:db8:42::/56 (a /64 per node).
    static func clusterCIDR(ipv6: Bool) -> String {
        ipv6 ? "\(LabTopology.podNetwork),\(LabTopology.podNetworkIPv6)" : LabTopology.podNetwork.description
    }

    /// Whether the Pod's Ready condition is True.
    static func isReady(_ pod: JSON) -> Bool {
        (pod["status"]?["conditions"]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
        }
    }

    static func ingress(_ service: JSON) -> [String] {
        (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
    }

    /// The node named by the Service's ServiceL2Status, if exactly one announces it.
    static func announcer(_ client: KubeClient, service: String, namespace: String = "default") async throws -> String?
    {
        let statuses =
            (try await client.list(.serviceL2Statuses, namespace: LabManifests.namespace)["items"]?.arrayValue
            ?? []).filter {
                $0["status"]?["serviceName"]?.stringValue == service
                    && $0["status"]?["serviceNamespace"]?.stringValue == namespace
            }
        guard statuses.count == 1 else { return nil }
        return statuses[0]["status"]?["node"]?.stringValue
    }

    static func waitUntil(
        _ what: String, timeout: Duration, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                if try await condition() { return }
            } catch {
                lastError = error
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(
            "timed out after \(timeout) waiting until \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
    }

    static func tail(_ path: String, lines: Int) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: Down

    /// Stops every daemon of the lab in `directory`, removes every `pylab-*` namespace (killing what still runs
    /// inside) and the lab's directory. Works on a half-built or crashed lab; never throws.
    public func down(directory: String = LabCluster.defaultDirectory, quiet: Bool = false) async {
        let state = try? LabState.load(directory: directory)
        if let state {
            // Everything at once (each daemon may take seconds to finish its graceful shutdown), the server last.
            for last in [false, true] {
                let daemons = state.daemons.filter { ($0.role == "server") == last }
                await withTaskGroup(of: Void.self) { group in
                    for daemon in daemons {
                        group.addTask {
                            await BlockingWork.run { ChildProcess.stop(daemon.pid, marker: state.binary) }
                        }
                    }
                }
            }
        }
        let namespaces = LabNetwork.namespaces(ip: Self.ip).filter { $0.hasPrefix(Self.prefix + "-") }
        for namespace in namespaces {
            ChildProcess.killAll(inNamespace: namespace, ip: Self.ip)
            _ = try? await ChildProcess.run(Self.ip, ["netns", "delete", namespace], standardError: .discarded)
        }
        _ = try? await ChildProcess.run(Self.ip, ["link", "delete", "\(Self.prefix)-m"], standardError: .discarded)
        // The resolv.conf files of Pod namespaces (`ip netns delete` leaves them).
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []
        where entry.hasPrefix(Self.prefix + "-") {
            try? FileManager.default.removeItem(atPath: "/etc/netns/" + entry)
        }
        rmdir("/etc/netns")  // only when empty: other namespaces' files stay
        if FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.removeItem(atPath: directory)
        }
        if !quiet {
            say(
                state == nil && namespaces.isEmpty
                    ? "no lab was running"
                    : "removed the lab: \(namespaces.count) namespaces, \(state?.daemons.count ?? 0) processes")
        }
    }
}
