import Announcement
import CoreMetrics
import Election
import KubeAPI
import KubeClient
import Layer2
import LoadBalancerConfig
import Logging
import NIOCore
import NetCore
import Netlink
import OrderedCollections
import Synchronization

extension L2Speaker {
    /// What one reconcile pass works with, kept between passes by the loop.
    struct LoopState: ~Copyable {
        var configuration: Configuration?
        var responders: [Int32: InterfaceResponder] = [:]
        var groups: MulticastGroups
        var announcing: [Int32: Set<IPAddress>] = [:]
        var repeats: [AnnouncementKey: Task<Void, Never>] = [:]
        /// Services this node announces, with the interfaces named in their Event.
        var services: [String: [String]] = [:]
    }

    struct AnnouncementKey: Hashable {
        var interface: Int32
        var ip: IPAddress
    }

    /// Reconciles after every trigger until the stream ends (graceful shutdown), then withdraws everything.
    /// The responders' sockets run on a thread of their own (`ResponderThread`).
    func reconcileLoop(_ work: AsyncStream<Void>, retrigger: @escaping @Sendable () -> Void) async {
        var state: LoopState
        do {
            state = LoopState(groups: try MulticastGroups())
        } catch {
            logger.critical("cannot hold multicast groups", metadata: ["error": "\(error)"])
            return
        }
        let group = await ResponderThread.start(priority: options.responderPriority, logger: logger)
        for await _ in work {
            await reconcile(&state, group: group, retrigger: retrigger)
        }
        for (_, task) in state.repeats { task.cancel() }
        for (index, _) in state.announcing { table.set([], on: index) }
        for responder in state.responders.values { await responder.close() }
        try? await group.shutdownGracefully()
        metrics.announced.record(0)
    }

    private func reconcile(
        _ state: inout LoopState, group: any EventLoopGroup, retrigger: @escaping @Sendable () -> Void
    ) async {
        // A starting speaker announces nothing until it has heard the others (or waited for them).
        guard let members = membership.withLock({ $0.flatMap { $0.isSettled ? $0.live : nil } }) else { return }
        switch Configuration.parse(pools: pools.list(), l2Advertisements: advertisements.list()) {
        case .success(let configuration): state.configuration = configuration
        case .failure(let errors):
            logger.error(
                "invalid configuration ignored; the last valid one stays in force",
                metadata: ["errors": "\(errors)"])
        }
        let decisions = AnnouncementPlanner.plan(
            services: inputs.services, servingNodes: inputs.servingNodes, nodes: nodes.list(),
            configuration: state.configuration ?? Configuration(), members: members,
            loadBalancerClass: options.loadBalancerClass)

        // Interfaces that may carry announcements, with a responder each.
        let links = self.links.withLock { $0 }
        var eligible: [Int32: Link] = [:]
        for (index, link) in links where options.interfaces.ineligibility(of: link) == nil { eligible[index] = link }
        for (index, responder) in state.responders
        where eligible[index] == nil || eligible[index]!.address != responder.mac.bytes || responder.hasFailed {
            if responder.hasFailed {
                logger.warning("interface sockets failed; reopening", metadata: ["interface": "\(responder.name)"])
            }
            // Its repeated announcements end with it (they would otherwise go on announcing addresses this node
            // may lose before they run out).
            for key in state.repeats.keys where key.interface == index {
                state.repeats.removeValue(forKey: key)?.cancel()
            }
            await responder.close()
            state.responders[index] = nil
            state.announcing[index] = nil
            table.set([], on: index)
        }
        for (index, link) in eligible.sorted(by: { $0.key < $1.key }) where state.responders[index] == nil {
            do {
                state.responders[index] = try await InterfaceResponder(
                    link: link, table: table, group: group, metrics: metrics, logger: logger, onFailure: retrigger)
                logger.info("answering on interface", metadata: ["interface": "\(link.name)"])
            } catch {
                logger.error(
                    "cannot answer on interface", metadata: ["interface": "\(link.name)", "error": "\(error)"])
            }
        }

        // What this node must announce where.
        var wanted: [Int32: Set<IPAddress>] = [:]
        var won: [String: (ips: [IPAddress], interfaces: [String])] = [:]
        for decision in decisions {
            guard case .announce(let node, let names, _, _) = decision.outcome, node == options.nodeName else {
                continue
            }
            let indexes = state.responders.keys.filter { names.isEmpty || names.contains(eligible[$0]!.name) }
            won[decision.service] = (decision.ips, indexes.map { eligible[$0]!.name }.sorted())
            for index in indexes { wanted[index, default: []].formUnion(decision.ips) }
        }
        apply(wanted, &state)
        ready.withLock { $0 = true }
        await report(won, &state)
    }

    /// Moves the announcement table to `wanted`: gained addresses join their multicast group and are announced at
    /// once and repeatedly; lost ones stop being answered and leave their group.
    private func apply(_ wanted: [Int32: Set<IPAddress>], _ state: inout LoopState) {
        for (index, ips) in state.announcing {
            for ip in ips.subtracting(wanted[index] ?? []) {
                state.repeats.removeValue(forKey: AnnouncementKey(interface: index, ip: ip))?.cancel()
                if ip.family == .ipv6 { state.groups.leave(ip, on: index) }
            }
        }
        for (index, ips) in wanted {
            guard let responder = state.responders[index] else { continue }
            table.set(ips, on: index)
            for ip in ips.subtracting(state.announcing[index] ?? []) {
                if ip.family == .ipv6 {
                    do { try state.groups.join(ip, on: index) } catch {
                        logger.error(
                            "cannot join solicited-node group",
                            metadata: ["interface": "\(responder.name)", "ip": "\(ip)", "error": "\(error)"])
                    }
                }
                state.repeats[AnnouncementKey(interface: index, ip: ip)]?.cancel()
                state.repeats[AnnouncementKey(interface: index, ip: ip)] = Task {
                    let start = ContinuousClock.now
                    while !Task.isCancelled {
                        responder.announce(ip)
                        guard ContinuousClock.now - start < Self.announceFor else { break }
                        try? await Task.sleep(for: Self.announceRepeat)
                    }
                }
            }
        }
        for index in state.announcing.keys where wanted[index] == nil { table.set([], on: index) }
        state.announcing = wanted
        metrics.announced.record(Set(wanted.values.flatMap { $0 }).count)
    }

    /// Events for Services this node starts announcing (`nodeAssigned`) or cannot announce (`announceFailed`).
    private func report(_ won: [String: (ips: [IPAddress], interfaces: [String])], _ state: inout LoopState) async {
        for (service, announcement) in won.sorted(by: { $0.key < $1.key }) {
            guard state.services[service] != announcement.interfaces else { continue }
            state.services[service] = announcement.interfaces
            let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let object = services.get(namespace: parts[0], name: parts[1]) else { continue }
            if announcement.interfaces.isEmpty {
                await recorder.record(
                    object, type: "Warning", reason: "announceFailed",
                    message: "node \(options.nodeName) won the election but has no eligible interface to announce "
                        + "\(announcement.ips.map(\.description).joined(separator: ", ")) on")
            } else {
                await recorder.record(
                    object, type: "Normal", reason: "nodeAssigned",
                    message: "announcing \(announcement.ips.map(\.description).joined(separator: ", ")) from node "
                        + "\(options.nodeName) on \(announcement.interfaces.joined(separator: ", ")) with protocol layer2"
                )
            }
        }
        for service in state.services.keys where won[service] == nil { state.services[service] = nil }
        let macs = Dictionary(
            state.responders.values.map { ($0.name, $0.mac.description) }, uniquingKeysWith: { first, _ in first })
        statusWriter.publish(
            state.services.filter { !$0.value.isEmpty }.mapValues { interfaces in
                ServiceStatusWriter.Entry(
                    status: ["interfaces": .array(interfaces.map { ["name": .string($0)] })],
                    annotations: [
                        ServiceStatusWriter.macAnnotation: interfaces.compactMap { name in
                            macs[name].map { "\(name)=\($0)" }
                        }.joined(separator: ",")
                    ])
            })
    }
}
