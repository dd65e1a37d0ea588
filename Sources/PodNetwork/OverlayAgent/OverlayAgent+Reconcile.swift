import CoreMetrics
import FoundationEssentials
import KubeAPI
import KubeClient
import Logging
import NFTables
import Overlay

extension OverlayAgent {
    /// One pass: the devices as planned, every other Node's lease read, the kernel's entries brought to the plan,
    /// Nodes that cannot be served reported once per problem (log, metric, Warning Event on the Node).
    func reconcile(_ node: LocalNode, kernel: OverlayKernel, nodes: Informer, pass: inout Pass) async -> LocalNode {
        let conf = options.netConf
        var local = node
        pass.failed = !ensureDevices(&local, kernel: kernel)
        var remotes: [NodeLease] = []
        var skipped: [String: OverlayError] = [:]
        var objects: [String: JSON] = [:]
        for object in nodes.list() {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            guard name != local.name else { continue }
            objects[name] = object
            do {
                if let lease = try NodeLease(node: object, conf: conf) { remotes.append(lease) }
            } catch {
                skipped[name] = error
            }
        }
        let plan = OverlayPlan(conf: conf, local: local.planLocal, remotes: remotes)
        skipped.merge(plan.skipped) { first, _ in first }
        for (name, problem) in skipped.sorted(by: { $0.key < $1.key }) where pass.reported[name] != problem.message {
            logger.warning("node \(name) left out of the overlay: \(problem.message)")
            metrics.count(problem)
            if let object = objects[name] {
                await events.record(object, type: "Warning", reason: problem.reason.label, message: problem.message)
            }
        }
        for name in pass.reported.keys where skipped[name] == nil && objects[name] != nil {
            logger.info("node \(name) is on the overlay again")
        }
        pass.reported = skipped.mapValues(\.message)

        let networks = [conf.enableIPv4 ? conf.network : nil, conf.enableIPv6 ? conf.ipv6Network : nil]
            .compactMap { $0 }
        do {
            let observed = try kernel.observed(
                devices: local.devices, networks: networks, localSubnets: local.subnets)
            let changes = plan.changes(from: observed)
            let failures = kernel.apply(changes)
            for change in changes {
                switch change {
                case .put(let entry):
                    metrics.puts.increment()
                    if pass.planned.contains(entry) {
                        metrics.repairs.increment()
                        logger.warning("restored \(entry): something removed it")
                    } else {
                        logger.debug("put \(entry)")
                    }
                case .remove(let entry):
                    metrics.removals.increment()
                    logger.debug("removed \(entry)")
                }
            }
            for failure in failures {
                logger.error("the kernel refused to \(failure.change): \(failure.error)")
                metrics.count(OverlayError(.kernelRefused, "\(failure.error)"))
            }
            if !changes.isEmpty {
                logger.info(
                    "\(changes.count - failures.count) of \(changes.count) kernel changes made for \(remotes.count) other nodes"
                )
            }
            pass.failed = pass.failed || !failures.isEmpty
        } catch {
            logger.error("cannot read the overlay's kernel entries: \(error)")
            metrics.count(OverlayError(.kernelRefused, "\(error)"))
            pass.failed = true
        }
        for (family, network, subnet) in [
            (NFTFamily.ipv4, conf.network, local.subnet), (NFTFamily.ipv6, conf.ipv6Network, local.ipv6Subnet),
        ] {
            guard let network, let subnet else { continue }
            let rules = OverlayNATRules.rules(network: network, subnet: subnet, masquerade: options.ipMasq)
            do {
                if try kernel.ensureRules(rules, family: family), pass.rulesInstalled {
                    logger.warning("restored the \(OverlayNATRules.table) nftables rules: something changed them")
                    metrics.repairs.increment()
                }
            } catch {
                logger.error("cannot install the \(OverlayNATRules.table) nftables rules: \(error)")
                metrics.count(OverlayError(.kernelRefused, "\(error)"))
                pass.failed = true
            }
        }
        pass.rulesInstalled = pass.rulesInstalled || !pass.failed
        pass.planned = Set(plan.entries)
        metrics.remoteNodes.record(remotes.filter { skipped[$0.name] == nil }.count)
        metrics.skippedNodes.record(skipped.count)
        if !pass.failed { metrics.lastSync.record(Date().timeIntervalSince1970) }
        return local
    }
}
