import Foundation
import KubeAPI
import KubeClient
import PylonTestSupport
import Testing

/// Drives `pylon server` with the real kubectl, checking what a real cluster would print.
@Suite(.timeLimit(.minutes(5))) struct KubectlTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    @Test func seedWalkthrough() async throws {
        try await TestAPIServer.with { server, _ in
            let version = try await server.kubectl("version")
            #expect(version.status == 0, "\(version.standardError)")
            #expect(version.standardOutput.contains("Server Version: v1.32"))

            let resources = try await server.kubectl("api-resources")
            #expect(resources.standardOutput.contains("customresourcedefinitions"))
            #expect(resources.standardOutput.contains("leases"))

            #expect(
                try await server.kubectl("create", "namespace", "metallb-system").standardOutput.contains(
                    "namespace/metallb-system created"))
            let crds = try await server.kubectl("apply", "-k", Self.path("deploy/crds/"))
            #expect(crds.status == 0, "\(crds.standardError)")
            let config = try await server.kubectl("apply", "-f", Self.path("testdata/metallb-config.yaml"))
            #expect(config.status == 0, "\(config.standardError)")
            #expect(config.standardOutput.contains("ipaddresspool.metallb.io/picluster-pool created"))
            #expect(config.standardOutput.contains("l2advertisement.metallb.io/example created"))
            let pools = try await server.kubectl(
                "get", "ipaddresspools", "-n", "metallb-system", "-o", "jsonpath={.items[0].spec.autoAssign}")
            #expect(pools.standardOutput == "true", "schema default applied")

            let svc = try await server.kubectl("apply", "-f", Self.path("testdata/traefik-service.yaml"))
            #expect(svc.status == 0, "\(svc.standardError)")
            let changed = try String(contentsOfFile: Self.path("testdata/traefik-service.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "port: 443", with: "port: 8443")
            let reapplied = try await server.kubectl("apply", "-f", "-", input: changed)
            #expect(reapplied.standardOutput.contains("service/traefik configured"), "\(reapplied.standardError)")

            let table = try await server.kubectl("get", "services", "--all-namespaces")
            let lines = table.standardOutput.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            #expect(lines.first == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"])
            #expect(
                lines.contains {
                    $0.prefix(5) == ["default", "kubernetes", "ClusterIP", "10.43.0.1", "<none>"] && $0[5] == "443/TCP"
                })
            let traefik = try #require(lines.first { $0.count > 1 && $0[1] == "traefik" })
            #expect(traefik[2] == "LoadBalancer")
            #expect(traefik[4] == "<pending>")
            #expect(traefik[5].wholeMatch(of: /80:3\d{4}\/TCP,8443:3\d{4}\/TCP/) != nil, "\(traefik)")
        }
    }

    @Test func patchTypesDescribeExplainDelete() async throws {
        try await TestAPIServer.with { server, _ in
            _ = try await server.kubectl("apply", "-k", Self.path("deploy/crds/"))
            _ = try await server.kubectl("apply", "-f", Self.path("testdata/traefik-service.yaml"))
            #expect(
                try await server.kubectl(
                    "patch", "svc", "traefik", "-n", "kube-system", "--type", "merge", "-p",
                    #"{"metadata":{"labels":{"a":"b"}}}"#
                ).status == 0)
            #expect(
                try await server.kubectl(
                    "patch", "svc", "traefik", "-n", "kube-system", "--type", "json", "-p",
                    #"[{"op":"add","path":"/metadata/labels/c","value":"d"}]"#
                ).status == 0)
            #expect(
                try await server.kubectl(
                    "patch", "svc", "traefik", "-n", "kube-system", "--type", "strategic", "-p",
                    #"{"spec":{"ports":[{"port":9000,"name":"extra"}]}}"#
                ).status == 0)
            let ports = try await server.kubectl(
                "get", "svc", "traefik", "-n", "kube-system", "-o",
                "jsonpath={.spec.ports[*].port} {.metadata.labels.a}{.metadata.labels.c}")
            #expect(ports.standardOutput == "80 443 9000 bd", "strategic merge kept the other ports")

            let explain = try await server.kubectl("explain", "ipaddresspool.spec.autoAssign")
            #expect(explain.status == 0, "\(explain.standardError)")
            #expect(explain.standardOutput.contains("FIELD: autoAssign <boolean>"))

            let describe = try await server.kubectl("describe", "svc", "traefik", "-n", "kube-system")
            #expect(
                describe.standardOutput.contains("Type:                     LoadBalancer"), "\(describe.standardOutput)"
            )
            #expect(describe.standardOutput.contains("Port:                     extra  9000/TCP"))

            let deleted = try await server.kubectl("delete", "svc", "traefik", "-n", "kube-system")
            #expect(deleted.standardOutput.contains("service \"traefik\" deleted"))
            let missing = try await server.kubectl("get", "svc", "traefik", "-n", "kube-system")
            #expect(missing.status != 0)
            #expect(missing.standardError.contains("Error from server (NotFound): services \"traefik\" not found"))
        }
    }

    @Test func badInputGetsKubernetesErrors() async throws {
        try await TestAPIServer.with { server, _ in
            _ = try await server.kubectl("apply", "-k", Self.path("deploy/crds/"))
            _ = try await server.kubectl("create", "namespace", "metallb-system")
            let badPool = """
                apiVersion: metallb.io/v1beta1
                kind: IPAddressPool
                metadata: {name: bad, namespace: metallb-system}
                spec: {autoAssign: "yes please"}
                """
            let invalid = try await server.kubectl("apply", "-f", "-", input: badPool)
            #expect(invalid.status != 0)
            #expect(invalid.standardError.contains("spec.addresses: Required value"), "\(invalid.standardError)")
            #expect(invalid.standardError.contains("spec.autoAssign"))

            let unknownField = """
                apiVersion: metallb.io/v1beta1
                kind: IPAddressPool
                metadata: {name: typo, namespace: metallb-system}
                spec: {addresses: [192.0.2.0/24], autoAsign: false}
                """
            let strict = try await server.kubectl("apply", "-f", "-", input: unknownField)
            #expect(strict.status != 0)
            #expect(strict.standardError.contains("unknown field \"spec.autoAsign\""), "\(strict.standardError)")

            let unknownKind = try await server.kubectl("get", "frobnicators")
            #expect(unknownKind.status != 0)
            #expect(unknownKind.standardError.contains("the server doesn't have a resource type \"frobnicators\""))

            let noNamespace = try await server.kubectl("create", "configmap", "x", "-n", "nowhere")
            #expect(
                noNamespace.standardError.contains("namespaces \"nowhere\" not found"), "\(noNamespace.standardError)")

            let badName = try await server.kubectl("create", "namespace", "Not_Valid")
            #expect(badName.standardError.contains("is invalid"), "\(badName.standardError)")

            // A wrong token is refused; the server keeps serving the right one. kubectl words a 401 in one of two
            // ways: "must be logged in (Unauthorized)" once its discovery cache for the server exists, "asked for
            // the client to provide credentials" when the refusal comes during discovery.
            let unauthorized = try await server.kubectl("--token", "wrong", "get", "ns")
            #expect(unauthorized.status != 0)
            #expect(
                unauthorized.standardError.contains("the server has asked for the client to provide credentials")
                    || unauthorized.standardError.contains("You must be logged in to the server (Unauthorized)"),
                "\(unauthorized.standardError)")
            #expect(try await server.kubectl("get", "ns").status == 0)
        }
    }

    @Test func objectsSurviveRestart() async throws {
        let first = try await TestAPIServer.start()
        let directory = first.dataDirectory
        do {
            #expect(try await first.kubectl("create", "configmap", "keep", "--from-literal=a=1").status == 0)
        } catch {
            await first.stop()
            throw error
        }
        let before = try await first.kubectl("get", "configmap", "keep", "-o", "jsonpath={.metadata.resourceVersion}")
            .standardOutput
        await first.stop(keepData: true)
        let second = try await TestAPIServer.start(dataDirectory: directory)
        do {
            let after = try await second.kubectl(
                "get", "configmap", "keep", "-o", "jsonpath={.metadata.resourceVersion}/{.data.a}")
            #expect(after.standardOutput == "\(before)/1")
            #expect(try await second.kubectl("create", "configmap", "next").status == 0)
            let next = try await second.kubectl(
                "get", "configmap", "next", "-o", "jsonpath={.metadata.resourceVersion}"
            ).standardOutput
            #expect(Int(next)! > Int(before)!, "revisions keep growing across restarts")
        } catch {
            await second.stop()
            throw error
        }
        await second.stop()
    }
}

@Suite(.timeLimit(.minutes(5))) struct KubectlWatchTests {
    @Test func getWatchStreamsAChange() async throws {
        let server = try await TestAPIServer.start()
        let watcher = try BackgroundProcess(
            "kubectl", ["get", "svc", "-w", "--request-timeout=60s"],
            environment: ["KUBECONFIG": server.kubeconfig, "HOME": server.dataDirectory])
        do {
            try await watcher.waitFor("kubernetes")
            #expect(watcher.text.contains("NAME"), "header printed")
            #expect(try await server.kubectl("create", "service", "loadbalancer", "web", "--tcp=80:8080").status == 0)
            try await watcher.waitFor("web")
            let line = try #require(watcher.text.split(separator: "\n").first { $0.hasPrefix("web ") })
            #expect(line.contains("LoadBalancer"))
            #expect(line.contains("<pending>"))
        } catch {
            await watcher.stop()
            await server.stop()
            throw error
        }
        await watcher.stop()
        await server.stop()
    }
}

@Suite(.timeLimit(.minutes(5))) struct NamespaceAndEventTests {
    @Test func deletingANamespaceRemovesItsContents() async throws {
        try await TestAPIServer.with { server, _ in
            #expect(try await server.kubectl("create", "namespace", "doomed").status == 0)
            #expect(try await server.kubectl("create", "configmap", "a", "-n", "doomed").status == 0)
            #expect(
                try await server.kubectl("create", "service", "clusterip", "b", "--tcp=80:80", "-n", "doomed").status
                    == 0)
            let deleted = try await server.kubectl("delete", "namespace", "doomed")
            #expect(deleted.standardOutput.contains("namespace \"doomed\" deleted"), "\(deleted.standardError)")
            try await eventually("namespace gone") {
                try await server.kubectl("get", "namespace", "doomed").status != 0
            }
            let leftovers = try await server.kubectl("get", "configmaps,services", "-n", "doomed", "-o", "name")
            #expect(leftovers.standardOutput.isEmpty)
            let recreated = try await server.kubectl("create", "configmap", "c", "-n", "doomed")
            #expect(recreated.standardError.contains("namespaces \"doomed\" not found"))
            // The Service's cluster IP went back to the pool: the whole range is still usable by others.
            #expect(try await server.kubectl("get", "svc", "kubernetes").status == 0)
        }
    }

    @Test func eventsTableAndDeleteCollection() async throws {
        try await TestAPIServer.with { server, client in
            let svc = try await client.create(
                .services, namespace: "default",
                [
                    "apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"],
                    "spec": ["type": "LoadBalancer", "ports": [["port": 80]]],
                ])
            await EventRecorder(client: client, component: "pylon-controller").record(
                svc, type: "Warning", reason: "AllocationFailed", message: "no pool matches")
            let events = try await server.kubectl("get", "events")
            let header = events.standardOutput.split(separator: "\n").first.map {
                $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            #expect(header == "LAST SEEN TYPE REASON OBJECT MESSAGE", "\(events.standardOutput)")
            #expect(events.standardOutput.contains("service/web"))
            #expect(events.standardOutput.contains("no pool matches"))

            for i in 0..<3 {
                _ = try await client.create(
                    .configMaps, namespace: "default",
                    [
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": ["name": .string("x\(i)"), "labels": ["batch": "1"]],
                    ])
            }
            _ = try await client.create(
                .configMaps, namespace: "default",
                ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "keep"]])
            let (status, _) = try await client.raw(
                "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=batch%3D1")
            #expect(status == 200)
            let left = try await client.listAll(.configMaps, namespace: "default").items.compactMap {
                $0["metadata"]?["name"]?.stringValue
            }
            #expect(left == ["keep"])
        }
    }
}

@Suite(.timeLimit(.minutes(5))) struct MetalLBKindsTests {
    @Test func everyMetalLBKindApplies() async throws {
        try await TestAPIServer.with { server, _ in
            let crds = try await server.kubectl("apply", "-k", KubectlTests.path("deploy/crds/"))
            #expect(crds.status == 0, "\(crds.standardError)")
            for kind in [
                "ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "communities", "bfdprofiles",
                "servicel2statuses", "servicebgpstatuses", "configurationstates",
            ] {
                #expect(crds.standardOutput.contains("\(kind).metallb.io created"), "\(kind)")
            }
            _ = try await server.kubectl("create", "namespace", "metallb-system")
            let applied = try await server.kubectl("apply", "-f", KubectlTests.path("testdata/metallb-all-kinds.yaml"))
            #expect(applied.status == 0, "\(applied.standardError)")
            let peers = try await server.kubectl(
                "get", "bgppeers.v1beta1.metallb.io", "-n", "metallb-system", "-o", "jsonpath={.items[*].apiVersion}")
            #expect(peers.standardOutput == "metallb.io/v1beta1 metallb.io/v1beta1", "v1beta1 still served")
            let port = try await server.kubectl(
                "get", "bgppeer", "router", "-n", "metallb-system", "-o", "jsonpath={.spec.peerPort}")
            #expect(port.standardOutput == "179", "default peer port")
            let bad = try await server.kubectl(
                "apply", "-f", "-",
                input:
                    "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: bad, namespace: metallb-system}\nspec: {detectMultiplier: 1}\n"
            )
            #expect(bad.standardError.contains("spec.detectMultiplier"), "\(bad.standardError)")
        }
    }
}
