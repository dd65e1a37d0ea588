import KubeAPI
import Logging
import OrderedCollections
import ServiceLifecycle
import Synchronization

/// kube-controller-manager's EndpointSlice and Endpoints controllers, inside `pylon server` as K3s runs them inside
/// its one process: follows Services, Pods and the slices it manages through the store's own watches and keeps every
/// selector Service's EndpointSlices and Endpoints as `EndpointSlicePlanner` decides, writing through the API (so
/// clients see ordinary watch events) only what changes.
///
/// Isolation: a `Service`; `run()` returns on graceful shutdown. A write that fails is logged and retried on the
/// Service's next change or the next pass (every 30 s); a watch that ends starts a full pass again.
final class EndpointSliceController: Service, Sendable {
    private struct State {
        /// Selectors of the selector Services, by `namespace/name`.
        var selectors: [String: [String: String]] = [:]
        /// The Pods (UIDs) each Service's last plan selected, so a Pod that leaves a selection is noticed.
        var selected: [String: Set<String>] = [:]
        var dirty: Set<String> = []
        /// The names of the slices this controller manages, by Service (`namespace/name`), from the slices' watch.
        var slices: [String: Set<String>] = [:]
    }

    private let handler: APIHandler
    private let logger: Logger
    private let state = Mutex(State())

    init(handler: APIHandler, logger: Logger) {
        self.handler = handler
        self.logger = logger
    }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.follow()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("endpointslice controller: \(error); starting over")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// One life of the watches: every Service is reconciled once (their ADDED events), then what changes.
    private func follow() async throws {
        let storage = handler.storage
        let prefixes = ["services", "pods", "endpointslices"].compactMap { plural in
            handler.registry.lookup(
                group: plural == "endpointslices" ? "discovery.k8s.io" : "", version: "v1", plural: plural)?
                .storagePrefix
        }
        guard prefixes.count == 3 else { return }
        var watches: [(WatchBuffer, UInt64)] = []
        defer { for (_, id) in watches { storage.stopWatch(id) } }
        for prefix in prefixes {
            let labels: LabelSelector =
                prefix == prefixes[2]
                ? LabelSelector(requirements: [
                    .init(key: EndpointSlicePlanner.managedByLabel, op: .in, values: [EndpointSlicePlanner.managedBy])
                ]) : .everything
            let (buffer, id, _) = try storage.watch(WatchFilter(prefix: prefix, labels: labels), from: nil)
            watches.append((buffer, id))
        }
        // The slices it manages, indexed now (their watch's events may come after the first Services are
        // reconciled, which must not create a second set).
        let managed = handler.stored(
            "discovery.k8s.io", "endpointslices",
            labels: LabelSelector(requirements: [
                .init(key: EndpointSlicePlanner.managedByLabel, op: .in, values: [EndpointSlicePlanner.managedBy])
            ]))
        state.withLock { state in
            state.slices = [:]
            for slice in managed {
                guard let service = slice["metadata"]?["labels"]?[EndpointSlicePlanner.serviceNameLabel]?.stringValue,
                    let name = slice["metadata"]?["name"]?.stringValue
                else { continue }
                state.slices["\(slice["metadata"]?["namespace"]?.stringValue ?? "")/\(service)", default: []].insert(
                    name)
            }
        }
        let signal = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, (buffer, _)) in watches.enumerated() {
                group.addTask {
                    for try await events in buffer {
                        for event in events { self.note(event, kind: index) }
                        signal.continuation.yield()
                    }
                    if Task.isCancelled || Task.isShuttingDownGracefully { throw CancellationError() }
                    throw ControllerError("the store ended a watch")
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(30))
                    self.state.withLock { $0.dirty.formUnion($0.selectors.keys) }
                    signal.continuation.yield()
                }
            }
            group.addTask {
                for await _ in signal.stream {
                    let dirty = self.state.withLock { state -> Set<String> in
                        defer { state.dirty = [] }
                        return state.dirty
                    }
                    // The Pods of a namespace are read once per batch, however many of its Services changed.
                    var pods: [String: [JSON]] = [:]
                    for key in dirty.sorted() { await self.reconcile(key, pods: &pods) }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Marks the Services an event concerns. `kind`: 0 Service, 1 Pod, 2 managed EndpointSlice.
    private func note(_ event: WatchEvent, kind: Int) {
        let namespace = event.key.namespace
        switch kind {
        case 0:
            let key = "\(namespace)/\(event.key.name)"
            let service = event.object.json
            state.withLock { state in
                if event.kind != .deleted, EndpointSlicePlanner.manages(service) {
                    var selector: [String: String] = [:]
                    for (label, value) in service["spec"]?["selector"]?.objectValue ?? [:] {
                        selector[label] = value.stringValue
                    }
                    state.selectors[key] = selector
                } else {
                    state.selectors[key] = nil
                }
                state.dirty.insert(key)
            }
        case 1:
            let pod = event.object.json
            let uid = pod["metadata"]?["uid"]?.stringValue ?? ""
            let labels = event.object.labels
            let previous = event.previousLabels ?? labels
            state.withLock { state in
                for (key, selector) in state.selectors where key.hasPrefix(namespace + "/") {
                    let matches = { (labels: [String: String]) in selector.allSatisfy { labels[$0.key] == $0.value } }
                    if matches(labels) || matches(previous) || state.selected[key]?.contains(uid) == true {
                        state.dirty.insert(key)
                    }
                }
            }
        default:
            guard let service = event.object.labels[EndpointSlicePlanner.serviceNameLabel] else { return }
            let key = "\(namespace)/\(service)"
            state.withLock { state in
                if event.kind == .deleted {
                    state.slices[key]?.remove(event.key.name)
                    if state.slices[key]?.isEmpty == true { state.slices[key] = nil }
                } else {
                    state.slices[key, default: []].insert(event.key.name)
                }
                state.dirty.insert(key)
            }
        }
    }

    /// Brings one Service's slices and Endpoints to the plan.
    private func reconcile(_ key: String, pods cache: inout [String: [JSON]]) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        let (namespace, name) = (parts[0], parts[1])
        let service = handler.storedObject("", "services", namespace: namespace, name: name)
        let slicesPath = "/apis/discovery.k8s.io/v1/namespaces/\(namespace)/endpointslices"
        let existing = (state.withLock { $0.slices[key] } ?? []).sorted().compactMap {
            handler.storedObject("discovery.k8s.io", "endpointslices", namespace: namespace, name: $0)
        }
        // A Service this controller does not manage, and never did: nothing to read or write.
        if let service, !EndpointSlicePlanner.manages(service), existing.isEmpty {
            state.withLock { $0.selected[key] = nil }
            return
        }
        var pods: [JSON] = []
        if let service, EndpointSlicePlanner.manages(service) {
            if cache[namespace] == nil { cache[namespace] = handler.stored("", "pods", namespace: namespace) }
            pods = cache[namespace] ?? []
        }
        let actions = EndpointSlicePlanner.plan(service: service ?? [:], pods: pods, existing: existing)
        for action in actions {
            let (method, path, body): (String, String, JSON?) =
                switch action {
                case .create(let slice): ("POST", slicesPath, slice)
                case .update(let slice):
                    ("PUT", "\(slicesPath)/\(slice["metadata"]?["name"]?.stringValue ?? "")", slice)
                case .delete(let slice): ("DELETE", "\(slicesPath)/\(slice)", nil)
                }
            let (status, answer) = await handler.perform(method, path, body: body)
            if status >= 300, !(method == "DELETE" && status == 404) {
                let message = answer?["message"]?.stringValue ?? ""
                logger.warning("endpointslice controller: \(method) \(path) for \(key) failed (\(status)): \(message)")
            }
        }
        await reconcileEndpoints(key, namespace: namespace, name: name, service: service, pods: pods)
        let uids = Set(
            EndpointSlicePlanner.selectedPods(service ?? [:], pods).compactMap { $0["metadata"]?["uid"]?.stringValue })
        state.withLock { $0.selected[key] = service == nil ? nil : uids }
    }

    private func reconcileEndpoints(_ key: String, namespace: String, name: String, service: JSON?, pods: [JSON]) async
    {
        let path = "/api/v1/namespaces/\(namespace)/endpoints"
        let current = handler.storedObject("", "endpoints", namespace: namespace, name: name)
        guard let service else {
            // The Service is gone: so is its Endpoints object (kube-apiserver's garbage collector would take it).
            if current != nil { _ = await handler.perform("DELETE", "\(path)/\(name)") }
            return
        }
        guard let desired = EndpointSlicePlanner.endpointsObject(service: service, pods: pods) else { return }
        let (status, answer): (Int, JSON?)
        if var current {
            guard
                current["subsets"] != desired["subsets"]
                    || current["metadata"]?["labels"] != desired["metadata"]?["labels"]
            else { return }
            current["subsets"] = desired["subsets"]
            current[path: ["metadata", "labels"]] = desired["metadata"]?["labels"]
            (status, answer) = await handler.perform("PUT", "\(path)/\(name)", body: current)
        } else {
            (status, answer) = await handler.perform("POST", path, body: desired)
        }
        if status >= 300 {
            let message = answer?["message"]?.stringValue ?? ""
            logger.warning("endpointslice controller: Endpoints \(key) not written (\(status)): \(message)")
        }
    }
}

/// Why the controller starts a pass over.
struct ControllerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
