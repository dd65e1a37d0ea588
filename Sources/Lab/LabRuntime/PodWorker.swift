import FoundationEssentials
import Glibc
import KubeAPI
import KubeClient
import Lab
import Logging
import NIOCore
import NIOPosix
import Processes

/// One Pod on a lab node, from its sandbox to its removal, as kubelet's pod worker handles it: the network
/// namespace and its CNI attachment, a `DemoPodServer` process per container on the container's TCP ports, restarts
/// by `restartPolicy`, the status kubelet reports, and graceful termination (SIGTERM, the grace period, SIGKILL,
/// CNI DEL, the namespace removed, the object deleted with grace period zero).
///
/// Owned by one task (`run()` is mutating); the node agent starts one per Pod UID. Failures are Events on the Pod
/// and log lines; the worker retries until the Pod goes.
struct PodWorker: Sendable {
    /// What every worker of a node shares.
    struct Context: Sendable {
        let client: KubeClient
        let pods: Informer
        let node: String
        let hostIPs: [String]
        /// The `pylon` executable the containers run.
        let binary: String
        let cni: CNIRuntime
        let logDirectory: String
        let events: EventRecorder
        let logger: Logger
    }

    /// One container's process and history.
    private struct ContainerRun: Sendable {
        var pid: Int32?
        var startedAt = ""
        var ready = false
        var restartCount = 0
        var started = false
        var lastTermination: PodStatusReport.ContainerState?
        /// How it ended when it will not be started again.
        var finished: PodStatusReport.ContainerState?
        var restartAt: ContinuousClock.Instant?
        var backoff = Duration.seconds(1)
    }

    let context: Context
    let namespace: String
    let name: String
    let uid: String

    private var sandbox: PodSandbox?
    private var attachment: CNIRuntime.Attachment?
    private var cniResult: JSON?
    private var podIPs: [String] = []
    private var startTime: String?
    private var runs: [String: ContainerRun] = [:]
    private var sandboxProblem: String?
    private var nextSandboxAttempt = ContinuousClock.now
    private var reported: JSON?

    init(context: Context, namespace: String, name: String, uid: String) {
        self.context = context
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }

    /// Runs the Pod until it is deleted (then tears it down) or the task is cancelled (then leaves it running, as
    /// kubelet leaves containers running when it stops).
    mutating func run() async {
        var last: JSON?
        while !Task.isCancelled {
            let pod = context.pods.get(namespace: namespace, name: name)
            guard let pod, pod["metadata"]?["uid"]?.stringValue == uid, pod["metadata"]?["deletionTimestamp"] == nil,
                pod["spec"]?["nodeName"]?.stringValue == context.node
            else {
                let same = pod?["metadata"]?["uid"]?.stringValue == uid ? pod : nil
                await terminate(same ?? last)
                return
            }
            last = pod
            await step(pod)
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: Running

    private mutating func step(_ pod: JSON) async {
        let hostNetwork = pod["spec"]?["hostNetwork"]?.boolValue == true
        if startTime == nil { startTime = Self.now() }
        if hostNetwork {
            podIPs = context.hostIPs
        } else if sandbox == nil {
            guard ContinuousClock.now >= nextSandboxAttempt else { return }
            await createSandbox(pod)
        }
        let containers = pod["spec"]?["containers"]?.arrayValue ?? []
        let policy = pod["spec"]?["restartPolicy"]?.stringValue ?? "Always"
        if sandbox != nil || hostNetwork {
            for container in containers {
                guard let containerName = container["name"]?.stringValue else { continue }
                var run = runs[containerName] ?? ContainerRun()
                await supervise(&run, container: container, policy: policy, sandbox: sandbox)
                runs[containerName] = run
            }
        }
        await report(pod, containers: containers, hostNetwork: hostNetwork)
    }

    private mutating func createSandbox(_ pod: JSON) async {
        let made = PodSandbox(node: context.node, podUID: uid)
        let ports = (pod["spec"]?["containers"]?.arrayValue ?? []).flatMap { $0["ports"]?.arrayValue ?? [] }
            .compactMap { port -> JSON? in
                guard let host = port["hostPort"]?.intValue, host > 0, let container = port["containerPort"]?.intValue
                else { return nil }
                var mapping: JSON = [
                    "hostPort": .int(host), "containerPort": .int(container),
                    "protocol": .string((port["protocol"]?.stringValue ?? "TCP").lowercased()),
                ]
                if let hostIP = port["hostIP"]?.stringValue { mapping["hostIP"] = .string(hostIP) }
                return mapping
            }
        let attaching = CNIRuntime.Attachment(
            containerID: made.id, netns: made.path, podNamespace: namespace, podName: name, podUID: uid,
            portMappings: ports)
        do throws(LabCluster.Failure) {
            try await made.create(resolvConf: PodSandbox.resolvConf(for: pod))
            let result = try await context.cni.add(attaching)
            sandbox = made
            attachment = attaching
            cniResult = result
            podIPs = (result["ips"]?.arrayValue ?? []).compactMap {
                $0["address"]?.stringValue?.split(separator: "/").first.map(String.init)
            }
            sandboxProblem = nil
            context.logger.info("pod \(namespace)/\(name): sandbox \(made.namespace), addresses \(podIPs)")
        } catch {
            await made.destroy()
            if sandboxProblem != error.description {
                await context.events.record(
                    Self.reference(pod), type: "Warning", reason: "FailedCreatePodSandBox",
                    message: "Failed to create pod sandbox: \(error.description)")
                context.logger.warning("pod \(namespace)/\(name): \(error.description)")
            }
            sandboxProblem = error.description
            nextSandboxAttempt = ContinuousClock.now + .seconds(2)
        }
    }

    /// Notices an exit, restarts by policy (back-off from 1 s, doubling to 10 s), starts, and judges readiness:
    /// ready once every declared TCP port accepts a connection.
    private func supervise(_ run: inout ContainerRun, container: JSON, policy: String, sandbox: PodSandbox?) async {
        if let pid = run.pid, let termination = ChildProcess.exitStatus(ofChild: pid) {
            let code: Int32 =
                switch termination {
                case .exited(let code): code
                case .signalled(let signal): 128 + signal
                }
            let ended = PodStatusReport.ContainerState.terminated(
                exitCode: code, reason: code == 0 ? "Completed" : "Error", startedAt: run.startedAt,
                finishedAt: Self.now())
            run.pid = nil
            run.ready = false
            if policy == "Always" || (policy == "OnFailure" && code != 0) {
                run.lastTermination = ended
                run.restartAt = ContinuousClock.now + run.backoff
                run.backoff = min(run.backoff * 2, .seconds(10))
                context.logger.info("pod \(namespace)/\(name): container exited with \(code), restarting")
            } else {
                run.finished = ended
            }
        }
        if run.pid == nil, run.finished == nil, run.restartAt.map({ ContinuousClock.now >= $0 }) ?? true {
            start(&run, container: container, sandbox: sandbox)
        }
        if let _ = run.pid, !run.ready {
            let ports = (container["ports"]?.arrayValue ?? []).filter {
                ($0["protocol"]?.stringValue ?? "TCP") == "TCP"
            }.compactMap { $0["containerPort"]?.intValue }
            let target = podIPs.first ?? "127.0.0.1"
            var all = true
            for port in ports where !(await Self.accepts(host: target, port: Int(port))) { all = false }
            run.ready = all
        }
    }

    private func start(_ run: inout ContainerRun, container: JSON, sandbox: PodSandbox?) {
        let containerName = container["name"]?.stringValue ?? "container"
        let ports = (container["ports"]?.arrayValue ?? []).filter { ($0["protocol"]?.stringValue ?? "TCP") == "TCP" }
            .compactMap { $0["containerPort"]?.intValue }
        let inSandbox = sandbox.map { [PodSandbox.ip, "netns", "exec", $0.namespace] } ?? []
        let argv =
            inSandbox + [context.binary, "lab", "pod", "--node-name", context.node]
            + ports.flatMap { ["--port", String($0)] }
        let log = "\(context.logDirectory)/\(namespace)_\(name)_\(containerName).log"
        do {
            run.pid = try ChildProcess.spawnDaemon(argv, log: log)
            run.startedAt = Self.now()
            if run.started { run.restartCount += 1 }
            run.started = true
            run.restartAt = nil
        } catch {
            context.logger.error("pod \(namespace)/\(name): cannot start container \(containerName): \(error)")
            run.restartAt = ContinuousClock.now + run.backoff
        }
    }

    private mutating func report(_ pod: JSON, containers: [JSON], hostNetwork: Bool) async {
        var reports: [PodStatusReport.Container] = []
        for container in containers {
            let containerName = container["name"]?.stringValue ?? ""
            let run = runs[containerName] ?? ContainerRun()
            let state: PodStatusReport.ContainerState
            if let finished = run.finished {
                state = finished
            } else if run.pid != nil {
                state = .running(startedAt: run.startedAt)
            } else if run.started {
                state = .waiting(reason: "CrashLoopBackOff", message: "back-off restarting failed container")
            } else {
                state = .waiting(reason: "ContainerCreating", message: sandboxProblem)
            }
            reports.append(
                PodStatusReport.Container(
                    name: containerName, image: container["image"]?.stringValue ?? "",
                    id: run.pid.map { "pylon://\($0)" }, state: state, lastTermination: run.lastTermination,
                    ready: run.ready && run.pid != nil, restartCount: run.restartCount))
        }
        let finished = reports.allSatisfy {
            if case .terminated = $0.state { return runs[$0.name]?.finished != nil }
            return false
        }
        let phase: String
        if !reports.isEmpty, finished {
            let failed = runs.values.contains {
                if case .terminated(let code, _, _, _)? = $0.finished { return code != 0 }
                return false
            }
            phase = failed ? "Failed" : "Succeeded"
        } else {
            phase = runs.values.contains { $0.started } ? "Running" : "Pending"
        }
        let status = PodStatusReport(
            phase: phase, hostIPs: context.hostIPs, podIPs: podIPs, startTime: startTime,
            sandboxReady: sandbox != nil || hostNetwork, containers: reports
        ).status(previous: reported ?? pod["status"], now: Self.now())
        guard status != reported else { return }
        do {
            _ = try await context.client.patch(
                .pods, namespace: namespace, name: name, ["status": status], type: .merge, subresource: "status")
            reported = status
        } catch {
            context.logger.warning("pod \(namespace)/\(name): cannot report status: \(error)")
        }
    }

    // MARK: Termination

    private mutating func terminate(_ pod: JSON?) async {
        let grace = pod?["metadata"]?["deletionGracePeriodSeconds"]?.intValue ?? 0
        let running = runs.compactMap { name, run in run.pid.map { (name, $0) } }
        if let pod, !running.isEmpty {
            for (containerName, _) in running {
                await context.events.record(
                    Self.reference(pod), type: "Normal", reason: "Killing",
                    message: "Stopping container \(containerName)")
            }
        }
        for (_, pid) in running { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(max(0, grace))
        var left = running.map(\.1)
        while !left.isEmpty, ContinuousClock.now < deadline {
            left.removeAll { ChildProcess.exitStatus(ofChild: $0) != nil }
            if !left.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
        }
        for pid in left {
            kill(pid, SIGKILL)
            while ChildProcess.exitStatus(ofChild: pid) == nil { try? await Task.sleep(for: .milliseconds(10)) }
        }
        runs = [:]
        if let sandbox, let attachment {
            do throws(LabCluster.Failure) {
                try await context.cni.delete(attachment, result: cniResult)
            } catch {
                context.logger.warning("pod \(namespace)/\(name): \(error.description)")
            }
            await sandbox.destroy()
        }
        sandbox = nil
        guard pod != nil else { return }
        do {
            try await context.client.delete(.pods, namespace: namespace, name: name, uid: uid, gracePeriodSeconds: 0)
            context.logger.info("pod \(namespace)/\(name): stopped and deleted")
        } catch let status as Status where status.code == 404 || status.code == 409 {
            // Gone already, or replaced by a Pod of the same name.
        } catch {
            context.logger.warning("pod \(namespace)/\(name): cannot delete it: \(error)")
        }
    }

    // MARK: Helpers

    /// Whether something accepts TCP connections at `host:port` (within 300 ms).
    static func accepts(host: String, port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(300)).connect(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    static func reference(_ pod: JSON) -> JSON {
        var pod = pod
        pod["apiVersion"] = "v1"
        pod["kind"] = "Pod"
        return pod
    }

    static func now() -> String {
        Timestamp.format(epochSeconds: Int64(Date().timeIntervalSince1970))
    }
}
