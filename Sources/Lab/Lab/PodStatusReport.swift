import KubeAPI

/// What a lab node reports about one of its Pods, and the `status` kubelet would write for it (pure): phase,
/// `hostIP(s)`, `podIP(s)`, `startTime`, the conditions kubelet sets (PodReadyToStartContainers, Initialized,
/// ContainersReady, Ready, PodScheduled) and a status per container.
public struct PodStatusReport: Equatable, Sendable {
    public enum ContainerState: Equatable, Sendable {
        case waiting(reason: String, message: String? = nil)
        case running(startedAt: String)
        case terminated(exitCode: Int32, reason: String, startedAt: String, finishedAt: String)
    }

    public struct Container: Equatable, Sendable {
        public var name: String
        public var image: String
        /// `pylon://<pid>` while a process runs for it.
        public var id: String?
        public var state: ContainerState
        /// How the previous run ended, after a restart.
        public var lastTermination: ContainerState?
        public var ready: Bool
        public var restartCount: Int

        public init(
            name: String, image: String, id: String? = nil, state: ContainerState,
            lastTermination: ContainerState? = nil, ready: Bool = false, restartCount: Int = 0
        ) {
            self.name = name
            self.image = image
            self.id = id
            self.state = state
            self.lastTermination = lastTermination
            self.ready = ready
            self.restartCount = restartCount
        }
    }

    public var phase: String
    public var hostIPs: [String]
    public var podIPs: [String]
    public var startTime: String?
    /// The network namespace exists and the CNI plugin attached it.
    public var sandboxReady: Bool
    public var containers: [Container]

    public init(
        phase: String, hostIPs: [String], podIPs: [String] = [], startTime: String? = nil, sandboxReady: Bool = false,
        containers: [Container]
    ) {
        self.phase = phase
        self.hostIPs = hostIPs
        self.podIPs = podIPs
        self.startTime = startTime
        self.sandboxReady = sandboxReady
        self.containers = containers
    }

    /// The Pod's `status`; a condition keeps its `lastTransitionTime` from `previous` while its value is unchanged.
    public func status(previous: JSON?, now: String) -> JSON {
        let ready = !containers.isEmpty && containers.allSatisfy(\.ready)
        let values: [(String, Bool)] = [
            ("PodReadyToStartContainers", sandboxReady), ("Initialized", true), ("Ready", ready),
            ("ContainersReady", ready), ("PodScheduled", true),
        ]
        let old = previous?["conditions"]?.arrayValue ?? []
        let conditions: [JSON] = values.map { type, value in
            let status = value ? "True" : "False"
            let earlier = old.first { $0["type"]?.stringValue == type && $0["status"]?.stringValue == status }
            var condition: JSON = [
                "type": .string(type), "status": .string(status),
                "lastTransitionTime": earlier?["lastTransitionTime"] ?? .string(now),
            ]
            if !value, type == "Ready" || type == "ContainersReady" {
                let waiting = containers.filter { !$0.ready }.map(\.name)
                condition["reason"] = "ContainersNotReady"
                condition["message"] = .string("containers with unready status: [\(waiting.joined(separator: " "))]")
            }
            return condition
        }
        var status: JSON = [
            "phase": .string(phase), "conditions": .array(conditions),
            "hostIP": .string(hostIPs.first ?? ""), "hostIPs": .array(hostIPs.map { ["ip": .string($0)] }),
            "qosClass": "BestEffort",
        ]
        if !podIPs.isEmpty {
            status["podIP"] = .string(podIPs[0])
            status["podIPs"] = .array(podIPs.map { ["ip": .string($0)] })
        }
        if let startTime { status["startTime"] = .string(startTime) }
        status["containerStatuses"] = .array(
            containers.map { container in
                var entry: JSON = [
                    "name": .string(container.name), "image": .string(container.image), "imageID": "",
                    "ready": .bool(container.ready), "restartCount": .int(Int64(container.restartCount)),
                    "started": .bool(container.state.isRunning), "state": Self.json(container.state),
                    "lastState": container.lastTermination.map(Self.json) ?? [:],
                ]
                if let id = container.id { entry["containerID"] = .string(id) }
                return entry
            })
        return status
    }

    static func json(_ state: ContainerState) -> JSON {
        switch state {
        case .waiting(let reason, let message):
            var waiting: JSON = ["reason": .string(reason)]
            if let message { waiting["message"] = .string(message) }
            return ["waiting": waiting]
        case .running(let startedAt):
            return ["running": ["startedAt": .string(startedAt)]]
        case .terminated(let exitCode, let reason, let startedAt, let finishedAt):
            return [
                "terminated": [
                    "exitCode": .int(Int64(exitCode)), "reason": .string(reason), "startedAt": .string(startedAt),
                    "finishedAt": .string(finishedAt),
                ]
            ]
        }
    }
}

extension PodStatusReport.ContainerState {
    var isRunning: Bool {
        if case .running = self { return true }
        return false
    }
}
