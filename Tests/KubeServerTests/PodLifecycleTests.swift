import KubeAPI
import PylonTestSupport
import Testing

@testable import KubeServer

/// Binding a Pod to a node and deleting it gracefully, as kube-apiserver does (what a scheduler and a kubelet, or
/// the lab's stand-ins for them, rely on).
@Suite struct PodLifecycleTests {
    static let pods = "/api/v1/namespaces/default/pods"

    static func pod(_ name: String, node: String? = nil, grace: Int? = nil) -> String {
        var spec = #""containers":[{"name":"c","image":"nginx"}]"#
        if let node { spec += #","nodeName":"\#(node)""# }
        if let grace { spec += #","terminationGracePeriodSeconds":\#(grace)"# }
        return #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)"},"spec":{\#(spec)}}"#
    }

    static func binding(_ node: String, uid: String? = nil) -> String {
        let meta = uid.map { #","uid":"\#($0)""# } ?? ""
        return
            #"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"x"\#(meta)},"target":{"kind":"Node","name":"\#(node)"}}"#
    }

    @Test func bindingSetsTheNodeOnceAndIsDiscoverable() async throws {
        let api = try await InMemoryAPI()
        defer { Task { await api.close() } }
        #expect(await api.request("POST", Self.pods, body: Self.pod("web")).status == 201)
        let bound = await api.request("POST", "\(Self.pods)/web/binding", body: Self.binding("node-1"))
        #expect(bound.status == 201, "\(bound.text)")
        let pod = try #require(await api.request("GET", "\(Self.pods)/web").json)
        #expect(pod["spec"]?["nodeName"]?.stringValue == "node-1")
        #expect(
            pod["status"]?["conditions"]?.arrayValue?.contains {
                $0["type"]?.stringValue == "PodScheduled" && $0["status"]?.stringValue == "True"
            } == true)

        let again = await api.request("POST", "\(Self.pods)/web/binding", body: Self.binding("node-2"))
        #expect(again.status == 409)
        #expect(again.json?["message"]?.stringValue?.contains(#"is already assigned to node "node-1""#) == true)
        #expect(await api.request("POST", Self.pods, body: Self.pod("other")).status == 201)
        let wrongUID = await api.request("POST", "\(Self.pods)/other/binding", body: Self.binding("n", uid: "nope"))
        #expect(wrongUID.status == 409, "\(wrongUID.text)")
        let noTarget = await api.request(
            "POST", "\(Self.pods)/other/binding", body: #"{"kind":"Binding","target":{"kind":"Node"}}"#)
        #expect(noTarget.status == 400)
        #expect(await api.request("POST", "\(Self.pods)/missing/binding", body: Self.binding("n")).status == 404)
        #expect(await api.request("PUT", "\(Self.pods)/web/binding", body: Self.binding("n")).status == 405)

        let discovery = try #require(await api.request("GET", "/api/v1").json)
        let entry = discovery["resources"]?.arrayValue?.first { $0["name"]?.stringValue == "pods/binding" }
        #expect(entry?["verbs"] == ["create"] && entry?["kind"]?.stringValue == "Binding")
    }

    @Test func aPodOnANodeIsMarkedFirstAndGoesWithGraceZero() async throws {
        let api = try await InMemoryAPI()
        defer { Task { await api.close() } }
        #expect(await api.request("POST", Self.pods, body: Self.pod("web", node: "node-1", grace: 20)).status == 201)
        let marked = await api.request("DELETE", "\(Self.pods)/web")
        #expect(marked.status == 200)
        var pod = try #require(await api.request("GET", "\(Self.pods)/web").json)
        #expect(pod["metadata"]?["deletionGracePeriodSeconds"]?.intValue == 20, "the Pod's own grace period")
        let deadline = try #require(pod["metadata"]?["deletionTimestamp"]?.stringValue.flatMap(Timestamp.parse))
        let created = try #require(pod["metadata"]?["creationTimestamp"]?.stringValue.flatMap(Timestamp.parse))
        #expect((19...21).contains(deadline - created), "deletionTimestamp is now + grace")

        // The node keeps reporting status while it stops the Pod; that does not remove it.
        let status = await api.request(
            "PATCH", "\(Self.pods)/web/status", body: #"{"status":{"phase":"Running"}}"#,
            contentType: "application/merge-patch+json")
        #expect(status.status == 200, "\(status.text)")
        #expect(await api.request("GET", "\(Self.pods)/web").status == 200)
        // A longer grace period does not extend it; a shorter one shortens it.
        #expect(await api.request("DELETE", "\(Self.pods)/web?gracePeriodSeconds=60").status == 200)
        pod = try #require(await api.request("GET", "\(Self.pods)/web").json)
        #expect(pod["metadata"]?["deletionGracePeriodSeconds"]?.intValue == 20)
        #expect(
            await api.request("DELETE", "\(Self.pods)/web", body: #"{"kind":"DeleteOptions","gracePeriodSeconds":5}"#)
                .status == 200)
        pod = try #require(await api.request("GET", "\(Self.pods)/web").json)
        #expect(pod["metadata"]?["deletionGracePeriodSeconds"]?.intValue == 5)
        let table = try #require(
            await api.request(
                "GET", "\(Self.pods)/web", headers: ["accept": "application/json;as=Table;v=v1;g=meta.k8s.io"]
            )
            .json)
        #expect(table["rows"]?.arrayValue?.first?["cells"]?.arrayValue?[2].stringValue == "Terminating")

        // The node is done: grace zero removes it.
        let gone = await api.request("DELETE", "\(Self.pods)/web", body: #"{"gracePeriodSeconds":0}"#)
        #expect(gone.status == 200)
        #expect(await api.request("GET", "\(Self.pods)/web").status == 404)
    }

    @Test func unscheduledAndFinishedPodsGoAtOnce() async throws {
        let api = try await InMemoryAPI()
        defer { Task { await api.close() } }
        #expect(await api.request("POST", Self.pods, body: Self.pod("pending")).status == 201)
        #expect(await api.request("DELETE", "\(Self.pods)/pending").status == 200)
        #expect(await api.request("GET", "\(Self.pods)/pending").status == 404, "no node has to stop it")

        #expect(await api.request("POST", Self.pods, body: Self.pod("done", node: "node-1")).status == 201)
        _ = await api.request(
            "PATCH", "\(Self.pods)/done/status", body: #"{"status":{"phase":"Succeeded"}}"#,
            contentType: "application/merge-patch+json")
        #expect(await api.request("DELETE", "\(Self.pods)/done").status == 200)
        #expect(await api.request("GET", "\(Self.pods)/done").status == 404, "nothing left to stop")

        #expect(await api.request("POST", Self.pods, body: Self.pod("now", node: "node-1")).status == 201)
        #expect(await api.request("DELETE", "\(Self.pods)/now?gracePeriodSeconds=0").status == 200)
        #expect(await api.request("GET", "\(Self.pods)/now").status == 404, "--grace-period=0 --force")
    }
}
