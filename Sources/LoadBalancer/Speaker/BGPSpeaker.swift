import Announcement
import BGP
import KubeAPI
import KubeClient
import LoadBalancerConfig
import Logging
import NetCore
import OrderedCollections
import ServiceLifecycle

/// The speaker's BGP mode: one `BGPPeer` session per BGPPeer object that selects this node, each kept announcing
/// what `BGPAnnouncementPlanner` decides from the informers' caches. Sessions are started, replaced (when their
/// BGPPeer changes) and stopped (Cease) as the configuration changes. An invalid BGP configuration is logged and the
/// sessions keep the last valid one. TCP-MD5 passwords come from the BGPPeer (`password`) or from a Secret in the
/// configuration namespace (`passwordSecret`, key `password`); a missing one keeps that session from starting
/// (logged), a changed one restarts it. A BGPPeer naming a BFDProfile gets a BFD session with its address
/// (`BFDAgent`); when that fails, every BGP session to the address ends at once (Cease / BFD Down).
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown, after every session sent its Cease.
public final class BGPSpeaker: Service, Sendable {
    let client: KubeClient
    let options: L2Speaker.Options
    let logger: Logger
    let services: Informer
    let slices: Informer
    let inputs: AnnouncementInputs
    let nodes: Informer
    let pools: Informer
    let peers: Informer
    let advertisements: Informer
    let communities: Informer
    let secrets: Informer
    let bfdProfiles: Informer
    let bfd: BFDAgent
    let recorder: EventRecorder
    let statusWriter: ServiceStatusWriter

    /// Shares the Layer 2 speaker's Service, EndpointSlice, Node and pool caches (which it runs); watches the BGP
    /// objects itself.
    public init(client: KubeClient, sharingWith speaker: L2Speaker, logger: Logger) {
        self.client = client
        self.options = speaker.options
        self.logger = logger
        services = speaker.services
        slices = speaker.slices
        inputs = speaker.inputs
        nodes = speaker.nodes
        pools = speaker.pools
        peers = Informer(client: client, resource: .bgpPeers, namespace: options.namespace, logger: logger)
        advertisements = Informer(
            client: client, resource: .bgpAdvertisements, namespace: options.namespace, logger: logger)
        communities = Informer(client: client, resource: .communities, namespace: options.namespace, logger: logger)
        secrets = Informer(client: client, resource: .secrets, namespace: options.namespace, logger: logger)
        bfdProfiles = Informer(client: client, resource: .bfdProfiles, namespace: options.namespace, logger: logger)
        bfd = BFDAgent(logger: logger)
        recorder = speaker.recorder
        statusWriter = ServiceStatusWriter(
            client: client, namespace: options.namespace, node: options.nodeName, kind: .bgp, logger: logger)
    }

    private var informers: [Informer] {
        [services, slices, nodes, pools, peers, advertisements, communities, secrets, bfdProfiles]
    }
    /// The ones this speaker runs (the others run in the Layer 2 speaker).
    private var ownInformers: [Informer] { [peers, advertisements, communities, secrets, bfdProfiles] }

    /// A running session and the BGPPeer it was made from.
    private struct Session {
        var spec: BGPPeerSpec
        /// The TCP-MD5 key in force (from the spec or its Secret).
        var password: [UInt8]?
        var peer: BGPPeer
        var task: Task<Void, Never>
    }

    public func run() async throws {
        let (work, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { tasks in
            for informer in ownInformers { tasks.addTask { try? await informer.run() } }
            tasks.addTask { await self.statusWriter.run() }
            tasks.addTask { try? await self.bfd.run() }
            for informer in informers { await informer.addHandler { _ in trigger.yield() } }
            for informer in informers { await informer.waitForSync() }
            var sessions: [String: Session] = [:]
            var configuration: BGPConfiguration?
            var announced: [String: Set<String>] = [:]
            var watched: Set<IPAddress> = []
            for await _ in work.cancelOnGracefulShutdown() {
                if let services = reconcile(&sessions, &configuration) {
                    await report(services, previously: &announced)
                }
                if let configuration { watch(sessions, configuration, &watched) }
            }
            for session in sessions.values { session.task.cancel() }
            for session in sessions.values { await session.task.value }
            tasks.cancelAll()
        }
    }

    /// Starts, replaces and stops sessions and gives each its routes.
    /// - Returns: per Service (`namespace/name`) the BGPPeers with a session that announce it; `nil` when nothing
    ///   could be decided (invalid pools, no valid BGP configuration yet, this node unknown).
    private func reconcile(
        _ sessions: inout [String: Session], _ last: inout BGPConfiguration?
    ) -> [String: Set<String>]? {
        let pools: Configuration
        switch Configuration.parse(pools: self.pools.list(), l2Advertisements: []) {
        case .success(let parsed): pools = parsed
        case .failure(let errors):
            logger.warning("address pools invalid; BGP announcements unchanged", metadata: ["errors": "\(errors)"])
            return nil
        }
        switch BGPConfiguration.parse(
            peers: peers.list(), advertisements: advertisements.list(), communities: communities.list(),
            bfdProfiles: bfdProfiles.list(),
            pools: pools.pools)
        {
        case .success(let parsed):
            last = parsed
        case .failure(let errors):
            logger.error("BGP configuration invalid; keeping the last valid one", metadata: ["errors": "\(errors)"])
        }
        guard let bgp = last, let me = nodes.get(name: options.nodeName) else { return nil }
        let addresses = (me["status"]?["addresses"]?.arrayValue ?? []).filter {
            $0["type"]?.stringValue == "InternalIP"
        }.compactMap { $0["address"]?.stringValue.flatMap(IPAddress.init) }
        let (plan, announced) = BGPAnnouncementPlanner.announcements(
            node: options.nodeName, addresses: addresses, services: inputs.services, servingNodes: inputs.servingNodes,
            nodes: nodes.list(), configuration: pools, bgp: bgp, loadBalancerClass: options.loadBalancerClass)

        var passwords: [String: Result<[UInt8]?, PasswordError>] = [:]
        for spec in bgp.peers { passwords[spec.name] = password(spec) }
        for (name, session) in sessions
        where plan[name] == nil || bgp.peers.first(where: { $0.name == name }) != session.spec
            || (try? passwords[name]?.get()) != session.password
        {
            session.task.cancel()
            sessions[name] = nil
        }
        for spec in bgp.peers {
            guard let routes = plan[spec.name] else { continue }
            if sessions[spec.name] == nil {
                let password: [UInt8]?
                switch passwords[spec.name] ?? .success(nil) {
                case .success(let found): password = found
                case .failure(let error):
                    logger.error("BGPPeer \(spec.name): \(error); not peering")
                    continue
                }
                guard let routerID = spec.routerID ?? addresses.first(where: { $0.family == .ipv4 }),
                    case .v4(let id) = routerID
                else {
                    logger.error("BGPPeer \(spec.name): no routerID and the node has no IPv4 InternalIP; not peering")
                    continue
                }
                let peer = BGPPeer(
                    configuration: .init(
                        localASN: spec.myASN, peerASN: spec.peerASN, routerID: id, holdTime: spec.holdTime,
                        keepaliveTime: spec.keepaliveTime,
                        restartTime: spec.enableGracefulRestart ? Self.restartTime : nil),
                    endpoint: .init(
                        address: spec.address.description, port: spec.port,
                        sourceAddress: spec.sourceAddress?.description, connectTimeout: spec.connectTime,
                        password: password, ttl: Self.ttl(for: spec)),
                    logger: logger)
                sessions[spec.name] = Session(
                    spec: spec, password: password, peer: peer, task: Task { try? await peer.run() })
                logger.info("peering", metadata: ["peer": "\(spec)"])
            }
            sessions[spec.name]?.peer.advertise(routes)
        }
        return announced.compactMapValues { peers in
            let running = peers.filter { sessions[$0] != nil }
            return running.isEmpty ? nil : running
        }
    }

    /// Runs a BFD session with the address of every session whose BGPPeer names a BFDProfile (one per address, as
    /// RFC 5881 has it), ending the BGP sessions to that address when it goes from Up to Down; ends the others.
    private func watch(_ sessions: [String: Session], _ bgp: BGPConfiguration, _ watched: inout Set<IPAddress>) {
        var wanted: [IPAddress: (source: IPAddress?, profile: BFDProfile, peers: [BGPPeer])] = [:]
        for session in sessions.values.sorted(by: { $0.spec.name < $1.spec.name }) {
            guard let profile = bgp.bfdProfile(of: session.spec) else { continue }
            wanted[session.spec.address, default: (session.spec.sourceAddress, profile, [])].peers.append(session.peer)
        }
        for address in watched.subtracting(wanted.keys) { bfd.unwatch(address) }
        watched = Set(wanted.keys)
        for (address, want) in wanted {
            let parameters = BFDAgent.Parameters(
                desiredMinTxInterval: want.profile.transmitInterval,
                requiredMinRxInterval: want.profile.receiveInterval, detectMultiplier: want.profile.detectMultiplier,
                passive: want.profile.passiveMode)
            let peers = want.peers
            bfd.watch(address, from: want.source, parameters: parameters) { change in
                guard change.isFailure else { return }
                for peer in peers { peer.bfdDown("session down (\(change.diagnostic))") }
            }
        }
    }

    /// Events for Services this node starts announcing (or announces to other peers), and ServiceBGPStatus objects
    /// for all it announces.
    private func report(_ announced: [String: Set<String>], previously: inout [String: Set<String>]) async {
        for (service, peers) in announced.sorted(by: { $0.key < $1.key }) where previously[service] != peers {
            let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let object = services.get(namespace: parts[0], name: parts[1]) else { continue }
            let ips = ServiceReading.statusIPs(object).map(\.description).joined(separator: ", ")
            await recorder.record(
                object, type: "Normal", reason: "nodeAssigned",
                message: "announcing \(ips) from node \(options.nodeName) to BGP peers "
                    + "\(peers.sorted().joined(separator: ", ")) with protocol bgp")
        }
        previously = announced
        statusWriter.publish(
            announced.mapValues { ServiceStatusWriter.Entry(status: ["peers": .array($0.sorted().map(JSON.string))]) })
    }
}

extension BGPSpeaker {
    /// Restart time offered with `enableGracefulRestart` (seconds; FRR's default).
    static let restartTime: UInt16 = 120

    /// The TTL of a session's packets, as FRR (MetalLB's default backend) sets it: 1 towards an external peer,
    /// which must then be directly connected; 255 with `ebgpMultiHop`; the system default towards internal peers.
    public static func ttl(for spec: BGPPeerSpec) -> Int? {
        guard spec.myASN != spec.peerASN else { return nil }
        return spec.ebgpMultiHop ? 255 : 1
    }

    /// Why a BGPPeer's TCP-MD5 password cannot be read. Never contains the password.
    struct PasswordError: Error, CustomStringConvertible {
        var description: String
    }

    /// The TCP-MD5 key of `spec`: its inline `password`, or the `password` key of its `passwordSecret` (which must
    /// be in the configuration namespace, as MetalLB requires); `nil` when it asks for none.
    func password(_ spec: BGPPeerSpec) -> Result<[UInt8]?, PasswordError> {
        if let inline = spec.password { return checked(Array(inline.utf8)) }
        guard let reference = spec.passwordSecret else { return .success(nil) }
        if let namespace = reference.namespace, namespace != options.namespace {
            return .failure(
                PasswordError(
                    description:
                        "passwordSecret \(namespace)/\(reference.name) must be in the namespace \(options.namespace)"))
        }
        guard let secret = secrets.get(namespace: options.namespace, name: reference.name) else {
            return .failure(
                PasswordError(description: "passwordSecret \(options.namespace)/\(reference.name) does not exist"))
        }
        guard let encoded = secret["data"]?["password"]?.stringValue, let key = Base64.decode(encoded), !key.isEmpty
        else {
            return .failure(
                PasswordError(
                    description: "passwordSecret \(options.namespace)/\(reference.name) has no \"password\" key"))
        }
        return checked(key)
    }

    private func checked(_ key: [UInt8]) -> Result<[UInt8]?, PasswordError> {
        guard !key.isEmpty, key.count <= 80 else {
            return .failure(PasswordError(description: "a TCP-MD5 password has 1 to 80 bytes, not \(key.count)"))
        }
        return .success(key)
    }
}
