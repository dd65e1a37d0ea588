import BGP
import KubeAPI
import KubeClient
import LoadBalancerConfig
import Logging
import NetCore
import ServiceLifecycle

/// The speaker's BGP mode: one `BGPPeer` session per BGPPeer object that selects this node, each kept announcing
/// what `BGPAnnouncementPlanner` decides from the informers' caches. Sessions are started, replaced (when their
/// BGPPeer changes) and stopped (Cease) as the configuration changes. An invalid BGP configuration is logged and the
/// sessions keep the last valid one. Peers asking for TCP-MD5 are not started yet (logged).
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown, after every session sent its Cease.
public final class BGPSpeaker: Service, Sendable {
    let client: KubeClient
    let options: L2Speaker.Options
    let logger: Logger
    let services: Informer
    let slices: Informer
    let nodes: Informer
    let pools: Informer
    let peers: Informer
    let advertisements: Informer
    let communities: Informer

    /// Shares the Layer 2 speaker's Service, EndpointSlice, Node and pool caches (which it runs); watches the BGP
    /// objects itself.
    public init(client: KubeClient, sharingWith speaker: L2Speaker, logger: Logger) {
        self.client = client
        self.options = speaker.options
        self.logger = logger
        services = speaker.services
        slices = speaker.slices
        nodes = speaker.nodes
        pools = speaker.pools
        peers = Informer(client: client, resource: .bgpPeers, namespace: options.namespace, logger: logger)
        advertisements = Informer(
            client: client, resource: .bgpAdvertisements, namespace: options.namespace, logger: logger)
        communities = Informer(client: client, resource: .communities, namespace: options.namespace, logger: logger)
    }

    private var informers: [Informer] { [services, slices, nodes, pools, peers, advertisements, communities] }
    /// The ones this speaker runs (the others run in the Layer 2 speaker).
    private var ownInformers: [Informer] { [peers, advertisements, communities] }

    /// A running session and the BGPPeer it was made from.
    private struct Session {
        var spec: BGPPeerSpec
        var peer: BGPPeer
        var task: Task<Void, Never>
    }

    public func run() async throws {
        let (work, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { tasks in
            for informer in ownInformers { tasks.addTask { try? await informer.run() } }
            for informer in informers { await informer.addHandler { _ in trigger.yield() } }
            for informer in informers { await informer.waitForSync() }
            var sessions: [String: Session] = [:]
            var configuration: BGPConfiguration?
            for await _ in work.cancelOnGracefulShutdown() {
                reconcile(&sessions, &configuration)
            }
            for session in sessions.values { session.task.cancel() }
            for session in sessions.values { await session.task.value }
            tasks.cancelAll()
        }
    }

    private func reconcile(_ sessions: inout [String: Session], _ last: inout BGPConfiguration?) {
        let pools: Configuration
        switch Configuration.parse(pools: self.pools.list(), l2Advertisements: []) {
        case .success(let parsed): pools = parsed
        case .failure(let errors):
            logger.warning("address pools invalid; BGP announcements unchanged", metadata: ["errors": "\(errors)"])
            return
        }
        switch BGPConfiguration.parse(
            peers: peers.list(), advertisements: advertisements.list(), communities: communities.list(),
            pools: pools.pools)
        {
        case .success(let parsed):
            last = parsed
        case .failure(let errors):
            logger.error("BGP configuration invalid; keeping the last valid one", metadata: ["errors": "\(errors)"])
        }
        guard let bgp = last, let me = nodes.get(name: options.nodeName) else { return }
        let addresses = (me["status"]?["addresses"]?.arrayValue ?? []).filter {
            $0["type"]?.stringValue == "InternalIP"
        }.compactMap { $0["address"]?.stringValue.flatMap(IPAddress.init) }
        let plan = BGPAnnouncementPlanner.plan(
            node: options.nodeName, addresses: addresses, services: services.list(), endpointSlices: slices.list(),
            nodes: nodes.list(), configuration: pools, bgp: bgp, loadBalancerClass: options.loadBalancerClass)

        for (name, session) in sessions
        where plan[name] == nil || bgp.peers.first(where: { $0.name == name }) != session.spec {
            session.task.cancel()
            sessions[name] = nil
        }
        for spec in bgp.peers {
            guard let routes = plan[spec.name] else { continue }
            if sessions[spec.name] == nil {
                guard spec.password == nil, spec.passwordSecret == nil else {
                    logger.error("BGPPeer \(spec.name) asks for TCP-MD5, which is not supported yet; not peering")
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
                        keepaliveTime: spec.keepaliveTime),
                    endpoint: .init(
                        address: spec.address.description, port: spec.port,
                        sourceAddress: spec.sourceAddress?.description, connectTimeout: spec.connectTime),
                    logger: logger)
                sessions[spec.name] = Session(spec: spec, peer: peer, task: Task { try? await peer.run() })
                logger.info("peering", metadata: ["peer": "\(spec)"])
            }
            sessions[spec.name]?.peer.advertise(routes)
        }
    }
}
