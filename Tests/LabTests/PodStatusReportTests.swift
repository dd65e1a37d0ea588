import KubeAPI
import Lab
import OrderedCollections
import Testing

/// The Pod status the lab's kubelet stand-in writes, in kubelet's shape.
@Suite struct PodStatusReportTests {
    @Test func aRunningReadyPodReportsWhatKubeletReports() {
        let report = PodStatusReport(
            phase: "Running", hostIPs: ["192.0.2.10", "2001:db8::a"], podIPs: ["10.42.0.2"],
            startTime: "2026-01-01T00:00:00Z", sandboxReady: true,
            containers: [
                .init(
                    name: "web", image: "nginx", id: "pylon://42", state: .running(startedAt: "2026-01-01T00:00:01Z"),
                    lastTermination: .terminated(
                        exitCode: 1, reason: "Error", startedAt: "2026-01-01T00:00:00Z",
                        finishedAt: "2026-01-01T00:00:01Z"), ready: true, restartCount: 1)
            ])
        let status = report.status(previous: nil, now: "2026-01-01T00:00:02Z")
        #expect(status["phase"] == "Running")
        #expect(status["hostIP"] == "192.0.2.10" && status["hostIPs"] == [["ip": "192.0.2.10"], ["ip": "2001:db8::a"]])
        #expect(status["podIP"] == "10.42.0.2" && status["podIPs"] == [["ip": "10.42.0.2"]])
        let types = status["conditions"]?.arrayValue?.compactMap { $0["type"]?.stringValue }
        #expect(types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"])
        #expect(status["conditions"]?.arrayValue?.allSatisfy { $0["status"] == "True" } == true)
        let container = status["containerStatuses"]?.arrayValue?.first
        #expect(container?["state"] == ["running": ["startedAt": "2026-01-01T00:00:01Z"]])
        #expect(container?["lastState"]?["terminated"]?["exitCode"] == 1)
        #expect(container?["restartCount"] == 1 && container?["ready"] == true && container?["started"] == true)
        #expect(container?["containerID"] == "pylon://42")
    }

    @Test func transitionTimesStayWhileAConditionHoldsAndAWaitingPodSaysWhy() {
        let waiting = PodStatusReport(
            phase: "Pending", hostIPs: ["192.0.2.10"],
            containers: [.init(name: "web", image: "nginx", state: .waiting(reason: "ContainerCreating"))])
        let first = waiting.status(previous: nil, now: "T1")
        #expect(first["podIP"] == nil)
        let ready = first["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
        #expect(ready?["status"] == "False" && ready?["reason"] == "ContainersNotReady")
        #expect(ready?["message"] == "containers with unready status: [web]")
        let again = waiting.status(previous: first, now: "T2")
        #expect(again["conditions"]?.arrayValue?.allSatisfy { $0["lastTransitionTime"] == "T1" } == true)
        var running = waiting
        running.containers[0].state = .running(startedAt: "T3")
        running.containers[0].ready = true
        let later = running.status(previous: again, now: "T3")
        #expect(later["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }?["lastTransitionTime"] == "T3")
        #expect(later["conditions"]?.arrayValue?.first { $0["type"] == "Initialized" }?["lastTransitionTime"] == "T1")
    }
}
