import Announcement
import KubeAPI
import KubeClient
import Synchronization

/// The Services and EndpointSlices as the speaker's planners read them, kept up to date from their informers'
/// changes: each object is decoded into its few announcing fields once, when it changes, so the informers can keep
/// their objects compact and no reconcile pass decodes the whole collection.
///
/// Thread-safe. Feed it every change of the Service informer (`apply(service:)`) and of the EndpointSlice informer
/// (`apply(endpointSlice:)`), from the first one on, in order.
final class AnnouncementInputs: Sendable {
    private struct State {
        /// LoadBalancer Services by `namespace/name`.
        var services: [String: AnnouncedService] = [:]
        /// Per EndpointSlice (`namespace/name`): its Service (`namespace/name`) and the nodes it serves from.
        var slices: [String: (service: String, nodes: Set<String>)] = [:]
    }

    private let state = Mutex(State())

    func apply(service change: Informer.Change) {
        switch change {
        case .added(let object), .updated(_, let object):
            let service = AnnouncedService(object)
            state.withLock { $0.services[object.namespacedName] = service }
        case .deleted(let object):
            state.withLock { $0.services[object.namespacedName] = nil }
        }
    }

    func apply(endpointSlice change: Informer.Change) {
        switch change {
        case .added(let object), .updated(_, let object):
            let serving = AnnouncementPlanner.servingNodes([object]).first
            state.withLock { $0.slices[object.namespacedName] = serving.map { ($0.key, $0.value) } }
        case .deleted(let object):
            state.withLock { $0.slices[object.namespacedName] = nil }
        }
    }

    /// Every LoadBalancer Service.
    var services: [AnnouncedService] { state.withLock { Array($0.services.values) } }

    /// Nodes with a serving endpoint, per Service (`namespace/name`).
    var servingNodes: [String: Set<String>] {
        state.withLock { s in
            var out: [String: Set<String>] = [:]
            for slice in s.slices.values { out[slice.service, default: []].formUnion(slice.nodes) }
            return out
        }
    }
}
