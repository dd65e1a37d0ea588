import KubeAPI
import Logging
import PylonTestKit
import PylonTestSupport
import Testing

@testable import KubeServer

/// The EndpointSlice and Endpoints controllers running against the server's store, driven through the API as
/// clients drive them.
@Suite struct EndpointSliceControllerTests {
    static let pods = "/api/v1/namespaces/default/pods"
    static let slices = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"

    static func service(_ name: String, app: String) -> String {
        #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)"},"spec":{"selector":{"app":"\#(app)"},"ports":[{"name":"http","port":80,"targetPort":"http"}]}}"#
    }

    static func pod(_ name: String, app: String) -> String {
        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":{"app":"\#(app)"}},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080}]}]}}"#
    }

    static func status(ip: String, ready: Bool) -> String {
        #"{"status":{"phase":"Running","podIP":"\#(ip)","podIPs":[{"ip":"\#(ip)"}],"conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#
    }

    /// A running Pod with an address, as a node reports it.
    static func runPod(_ api: InMemoryAPI, _ name: String, app: String, ip: String, ready: Bool = true) async throws {
        let created = await api.request("POST", pods, body: pod(name, app: app))
        try #require(created.status == 201, "\(created.text)")
        let patched = await api.request(
            "PATCH", "\(pods)/\(name)/status", body: status(ip: ip, ready: ready),
            contentType: "application/merge-patch+json")
        try #require(patched.status == 200, "\(patched.text)")
    }

    static func slices(_ api: InMemoryAPI, of service: String) async -> [JSON] {
        await api.request("GET", "\(slices)?labelSelector=kubernetes.io/service-name=\(service)").json?["items"]?
            .arrayValue ?? []
    }

    static func endpoints(_ slices: [JSON]) -> [JSON] { slices.flatMap { $0["endpoints"]?.arrayValue ?? [] } }

    static func running(_ api: InMemoryAPI) -> Task<Void, any Error> {
        let controller = EndpointSliceController(handler: api.handler, logger: Logger(label: "test"))
        return Task { try await controller.run() }
    }

    @Test func slicesAndEndpointsFollowPodsAndARestartWritesNothing() async throws {
        var api = try await InMemoryAPI()
        var controller = Self.running(api)
        do {
            #expect(
                await api.request("POST", "/api/v1/namespaces/default/services", body: Self.service("web", app: "web"))
                    .status == 201)
            for (n, name) in ["a", "b", "c"].enumerated() {
                try await Self.runPod(api, name, app: "web", ip: "10.42.0.\(n + 2)")
            }
            try await Self.runPod(api, "db", app: "db", ip: "10.42.0.9")
            try await eventually("three ready endpoints") {
                let endpoints = Self.endpoints(await Self.slices(api, of: "web"))
                return endpoints.count == 3 && endpoints.allSatisfy { $0["conditions"]?["ready"] == true }
            }
            let slice = try #require(await Self.slices(api, of: "web").first)
            #expect(
                slice["metadata"]?["labels"]?["endpointslice.kubernetes.io/managed-by"]
                    == "endpointslice-controller.k8s.io")
            #expect(slice["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"]])
            #expect(slice["metadata"]?["name"]?.stringValue?.hasPrefix("web-") == true)
            try await eventually("the Endpoints object lists them") {
                let object = await api.request("GET", "/api/v1/namespaces/default/endpoints/web").json
                return object?["subsets"]?.arrayValue?.first?["addresses"]?.arrayValue?.map { $0["ip"] }
                    == ["10.42.0.2", "10.42.0.3", "10.42.0.4"]
            }

            // A Pod goes NotReady: its condition flips, in the slice and in Endpoints.
            _ = await api.request(
                "PATCH", "\(Self.pods)/b/status", body: Self.status(ip: "10.42.0.3", ready: false),
                contentType: "application/merge-patch+json")
            try await eventually("b is not ready") {
                Self.endpoints(await Self.slices(api, of: "web")).first { $0["targetRef"]?["name"] == "b" }?[
                    "conditions"]?["ready"] == false
            }
            try await eventually("b is a not-ready address") {
                let object = await api.request("GET", "/api/v1/namespaces/default/endpoints/web").json
                return object?["subsets"]?.arrayValue?.first?["notReadyAddresses"]?.arrayValue?.map { $0["ip"] }
                    == ["10.42.0.3"]
            }

            // 150 Pods: two slices.
            #expect(
                await api.request(
                    "POST", "/api/v1/namespaces/default/services", body: Self.service("many", app: "many")
                ).status == 201)
            for n in 0..<150 {
                try await Self.runPod(api, "m\(n)", app: "many", ip: "10.42.\(1 + n / 200).\(n % 200 + 2)")
            }
            try await eventually("150 endpoints in two slices", timeout: .seconds(30)) {
                let slices = await Self.slices(api, of: "many")
                return slices.map { $0["endpoints"]?.arrayValue?.count ?? 0 }.sorted() == [50, 100]
            }

            // Restarted: the controller's first pass over everything writes nothing.
            func versions() async -> [String] {
                var all = (await Self.slices(api, of: "web") + (await Self.slices(api, of: "many"))).compactMap {
                    $0["metadata"]?["resourceVersion"]?.stringValue
                }
                all.append(
                    await api.request("GET", "/api/v1/namespaces/default/endpoints/web").json?["metadata"]?[
                        "resourceVersion"]?.stringValue ?? "")
                return all.sorted()
            }
            let before = await versions()
            controller.cancel()
            _ = try? await controller.value
            api = try await api.restarted()
            controller = Self.running(api)
            // A Service created after the restart is handled after the first pass: once its slice is there, that
            // pass is over.
            #expect(
                await api.request("POST", "/api/v1/namespaces/default/services", body: Self.service("zzz", app: "zzz"))
                    .status == 201)
            try await eventually("the marker Service's slice") { !(await Self.slices(api, of: "zzz")).isEmpty }
            #expect(await versions() == before, "nothing rewritten")

            // The Service goes: so do its slices and Endpoints.
            #expect(await api.request("DELETE", "/api/v1/namespaces/default/services/web").status == 200)
            try await eventually("web's slices and Endpoints are gone") {
                let endpoints = await api.request("GET", "/api/v1/namespaces/default/endpoints/web")
                return (await Self.slices(api, of: "web")).isEmpty && endpoints.status == 404
            }
        } catch {
            controller.cancel()
            await api.close()
            throw error
        }
        controller.cancel()
        _ = try? await controller.value
        await api.close()
    }

    /// With the real kubectl against `pylon server`: Pods made with `kubectl run`, their status set as a kubelet sets
    /// it, a Service from `kubectl create service`; `kubectl get endpointslices` and `kubectl get endpoints` show
    /// what a cluster shows.
    @Test func kubectlSeesSlicesAndEndpointsOfItsPods() async throws {
        try await TestAPIServer.with { server, _ in
            for (n, name) in ["web-1", "web-2"].enumerated() {
                let run = try await server.kubectl("run", name, "--image=nginx", "--port=8080", "--labels=app=web")
                #expect(run.status == 0, "\(run)")
                let patched = try await server.kubectl(
                    "patch", "pod", name, "--subresource=status", "--type=merge", "-p",
                    Self.status(ip: "10.42.0.\(n + 2)", ready: true))
                #expect(patched.status == 0, "\(patched)")
            }
            // The server keeps the endpoints of the `kubernetes` Service itself.
            let own = try await server.kubectl("get", "endpoints", "kubernetes")
            #expect(own.standardOutput.contains("127.0.0.1:\(server.port)"), "\(own)")
            let created = try await server.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
            #expect(created.status == 0, "\(created)")
            try await eventually("kubectl get endpoints shows both Pods") {
                let endpoints = try await server.kubectl("get", "endpoints", "web")
                return endpoints.standardOutput.contains("10.42.0.2:8080,10.42.0.3:8080")
            }
            let slices = try await server.kubectl(
                "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "wide")
            #expect(
                slices.standardOutput.split(separator: "\n").contains {
                    $0.hasPrefix("web-") && $0.contains("IPv4") && $0.contains("8080") && $0.contains("10.42.0.2")
                        && $0.contains("10.42.0.3")
                }, "\(slices.standardOutput)")
            let deleted = try await server.kubectl("delete", "pod", "web-1", "--grace-period=0", "--force")
            #expect(deleted.status == 0, "\(deleted)")
            try await eventually("the deleted Pod leaves") {
                let endpoints = try await server.kubectl("get", "endpoints", "web")
                return endpoints.standardOutput.contains("10.42.0.3:8080")
                    && !endpoints.standardOutput.contains("10.42.0.2")
            }
        }
    }
}
