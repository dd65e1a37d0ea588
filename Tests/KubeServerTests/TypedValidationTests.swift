import Foundation
import KubeAPI
import KubeServer
import PylonTestSupport
import Testing

/// Built-in objects are decoded as kube-apiserver decodes them into their Go types (issue 26): wrong JSON types,
/// unknown and duplicate fields get kube-apiserver's status, reason and message, per `fieldValidation`.
@Suite(.timeLimit(.minutes(5))) struct TypedValidationTests {
    /// Every built-in kind the server serves: its collection, apiVersion, kind and what else a valid object needs.
    static let kinds: [(path: String, apiVersion: String, kind: String, rest: String)] = [
        ("/api/v1/namespaces", "v1", "Namespace", ""),
        ("/api/v1/namespaces/default/services", "v1", "Service", #","spec":{"ports":[{"port":80}]}"#),
        ("/api/v1/nodes", "v1", "Node", ""),
        ("/api/v1/namespaces/default/pods", "v1", "Pod", #","spec":{"containers":[{"name":"c","image":"i"}]}"#),
        ("/api/v1/namespaces/default/endpoints", "v1", "Endpoints", ""),
        ("/api/v1/namespaces/default/events", "v1", "Event", #","involvedObject":{"kind":"Pod","name":"p"}"#),
        ("/api/v1/namespaces/default/secrets", "v1", "Secret", #","data":{"k":"dmFsdWU="}"#),
        ("/api/v1/namespaces/default/configmaps", "v1", "ConfigMap", #","data":{"k":"v"}"#),
        ("/api/v1/namespaces/default/serviceaccounts", "v1", "ServiceAccount", ""),
        (
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", "discovery.k8s.io/v1", "EndpointSlice",
            #","addressType":"IPv4","endpoints":[]"#
        ),
        ("/apis/coordination.k8s.io/v1/namespaces/default/leases", "coordination.k8s.io/v1", "Lease", ""),
        ("/apis/events.k8s.io/v1/namespaces/default/events", "events.k8s.io/v1", "Event", ""),
        ("/apis/apps/v1/namespaces/default/deployments", "apps/v1", "Deployment", ""),
        ("/apis/apps/v1/namespaces/default/daemonsets", "apps/v1", "DaemonSet", ""),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", "rbac.authorization.k8s.io/v1", "Role", ""),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", "rbac.authorization.k8s.io/v1",
            "RoleBinding", #","roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}"#
        ),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "rbac.authorization.k8s.io/v1", "ClusterRole", ""),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            #","roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"}"#
        ),
    ]

    /// The name an object of `kind` gets for `base` (a CRD's is its plural and group).
    static func name(_ kind: String, _ base: String) -> String {
        kind == "CustomResourceDefinition" ? "\(base)s.example.com" : base
    }

    /// An object of `kind` named after `base`, with `metadata` members after its name and `extra` members.
    static func body(
        _ kind: (path: String, apiVersion: String, kind: String, rest: String), _ base: String, metadata: String = "",
        extra: String = ""
    ) -> String {
        let name = Self.name(kind.kind, base)
        let rest = kind.rest.replacing("NAME", with: base)
        return #"{"apiVersion":"\#(kind.apiVersion)","kind":"\#(kind.kind)","metadata":{"name":"\#(name)"\#(metadata)}"#
            + rest + extra + "}"
    }

    /// For every served kind: a wrong type, an unknown field under each mode, a duplicate field.
    @Test func everyKindIsDecodedAsKubeAPIServerDecodesIt() async throws {
        try await APIHandlerTests.with { api in
            for kind in Self.kinds {
                let version = kind.apiVersion.split(separator: "/").last.map(String.init) ?? ""
                let prefix = "\(kind.kind) in version \"\(version)\" cannot be handled as a \(kind.kind): "
                let what = "\(kind.apiVersion) \(kind.kind)"

                let wrongType = await api.request(
                    "POST", kind.path, body: Self.body(kind, "typed", metadata: #","labels":{"app":true}"#))
                #expect(wrongType.status == 400, "\(what): \(wrongType.text)")
                #expect(wrongType.json?["reason"] == "BadRequest", "\(what)")
                #expect(
                    wrongType.json?["message"]?.stringValue
                        == prefix
                        + "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string",
                    "\(what): \(wrongType.text)")

                let unknown = Self.body(kind, "strict", extra: #","bogus":{"x":1}"#)
                let strict = await api.request("POST", kind.path + "?fieldValidation=Strict", body: unknown)
                #expect(strict.status == 400 && strict.json?["reason"] == "BadRequest", "\(what): \(strict.text)")
                #expect(
                    strict.json?["message"]?.stringValue == prefix + #"strict decoding error: unknown field "bogus""#,
                    "\(what): \(strict.text)")

                let warned = await api.request("POST", kind.path, body: unknown)
                #expect(warned.status == 201, "\(what): \(warned.text)")
                #expect(warned.headers["warning"] == #"299 - "unknown field \"bogus\"""#, "\(what): \(warned.headers)")
                #expect(warned.json?["bogus"] == nil, "\(what): dropped")
                #expect(warned.json?["metadata"]?["name"]?.stringValue == Self.name(kind.kind, "strict"), "\(what)")

                let ignored = await api.request(
                    "POST", kind.path + "?fieldValidation=Ignore",
                    body: Self.body(kind, "ignored", extra: #","bogus":1"#))
                #expect(ignored.status == 201 && ignored.headers["warning"] == nil, "\(what): \(ignored.text)")
                #expect(ignored.json?["bogus"] == nil, "\(what)")

                let duplicate = Self.body(kind, "twice", metadata: #","name":"\#(Self.name(kind.kind, "twice"))""#)
                let refused = await api.request("POST", kind.path + "?fieldValidation=Strict", body: duplicate)
                #expect(refused.status == 400 && refused.json?["reason"] == "BadRequest", "\(what): \(refused.text)")
                #expect(
                    refused.json?["message"]?.stringValue
                        == prefix + #"strict decoding error: duplicate field "metadata.name""#,
                    "\(what): \(refused.text)")
                let warnedDuplicate = await api.request("POST", kind.path, body: duplicate)
                #expect(warnedDuplicate.status == 201, "\(what): \(warnedDuplicate.text)")
                #expect(warnedDuplicate.headers["warning"] == #"299 - "duplicate field \"metadata.name\"""#, "\(what)")

                let bad = await api.request(
                    "POST", kind.path + "?fieldValidation=Sometimes", body: Self.body(kind, "x"))
                #expect(bad.status == 400, "\(what): \(bad.text)")
            }
        }
    }

    /// Upstream's own case (kubernetes test/integration/apiserver/field_validation_test.go): a Deployment with
    /// unknown, duplicate, and both, at several depths, gets the same strict error, in the same order; its merge
    /// patch reports the patch's duplicates first, then the patched object's unknown fields in key order.
    @Test func upstreamsDeploymentCaseGetsUpstreamsErrors() async throws {
        try await APIHandlerTests.with { api in
            let path = "/apis/apps/v1/namespaces/default/deployments"
            let invalid = """
                {"apiVersion":"apps/v1","kind":"Deployment",
                 "metadata":{"name":"dep","name":"dep","unknownMeta":"x","labels":{"app":"nginx"}},
                 "spec":{"unknown1":"val1","unknownDupe":"valDupe","unknownDupe":"valDupe2","paused":true,"paused":false,
                  "selector":{"matchLabels":{"app":"nginx"}},
                  "template":{"metadata":{"labels":{"app":"nginx"}},
                   "spec":{"containers":[{"name":"nginx","image":"nginx:latest","unknownNested":"val1",
                    "imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}
                """
            let strict = await api.request("POST", path + "?fieldValidation=Strict", body: invalid)
            #expect(strict.status == 400)
            #expect(
                strict.json?["message"]?.stringValue
                    == #"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#,
                "\(strict.text)")
            let created = await api.request("POST", path, body: invalid)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.headers["warning"]?.components(separatedBy: "299 - ").count == 8, "\(created.headers)")
            let stored = try #require(created.json)
            #expect(stored["spec"]?["paused"] == false && stored["spec"]?["unknown1"] == nil)
            #expect(
                stored["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["imagePullPolicy"] == "Never")

            let patch = """
                {"spec":{"unknown1":"val1","unknownDupe":"valDupe","unknownDupe":"valDupe2","paused":true,"paused":false,
                  "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:latest","unknownNested":"val1",
                    "imagePullPolicy":"Always","imagePullPolicy":"Never"}]}}}}
                """
            let patched = await api.request(
                "PATCH", path + "/dep?fieldValidation=Strict", body: patch, contentType: "application/merge-patch+json")
            #expect(patched.status == 422 && patched.json?["reason"] == "Invalid", "\(patched.text)")
            let message = patched.json?["message"]?.stringValue ?? ""
            #expect(
                message.hasSuffix(
                    #"strict decoding error: duplicate field "spec.unknownDupe", duplicate field "spec.paused", duplicate field "spec.template.spec.containers[0].imagePullPolicy", unknown field "spec.template.spec.containers[0].unknownNested", unknown field "spec.unknown1", unknown field "spec.unknownDupe""#
                ), "\(message)")
            #expect(patched.json?["details"]?["causes"]?.arrayValue?.first?["field"] == "patch")

            let jsonPatch = """
                [{"op":"add","path":"/spec/unknown1","value":"val1","foo":"bar"},
                 {"op":"add","path":"/spec/unknown2","path":"/spec/unknown3","value":"val1"},
                 {"op":"add","path":"/spec/paused","value":true}]
                """
            let refused = await api.request(
                "PATCH", path + "/dep?fieldValidation=Strict", body: jsonPatch,
                contentType: "application/json-patch+json")
            #expect(
                refused.json?["message"]?.stringValue?.hasSuffix(
                    #"strict decoding error: json patch unknown field "[0].foo", json patch duplicate field "[1].path", unknown field "spec.unknown1", unknown field "spec.unknown3""#
                ) == true, "\(refused.text)")
            let wrongType = await api.request(
                "PATCH", path + "/dep", body: #"{"spec":{"replicas":"two"}}"#,
                contentType: "application/merge-patch+json")
            #expect(wrongType.status == 422, "\(wrongType.text)")
            #expect(
                wrongType.json?["message"]?.stringValue?.hasSuffix(
                    "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")
                    == true,
                "\(wrongType.text)")
        }
    }

    /// Values with their own Go decoders: IntOrString, Quantity, base64 bytes, int32 range, nested structs.
    @Test func valuesWithTheirOwnDecodersGetTheirMessages() async throws {
        try await APIHandlerTests.with { api in
            let cases: [(String, String, String, String)] = [
                (
                    "/api/v1/namespaces/default/services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":"80"}]}}"#,
                    "Service",
                    "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"
                ),
                (
                    "/api/v1/namespaces/default/services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":3000000000}]}}"#,
                    "Service",
                    "json: cannot unmarshal number 3000000000 into Go struct field ServicePort.spec.ports.port of type int32"
                ),
                (
                    "/api/v1/namespaces/default/services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":true}]}}"#,
                    "Service", "json: cannot unmarshal bool into Go value of type int32"
                ),
                (
                    "/api/v1/namespaces/default/services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":"ClusterIP"}"#, "Service",
                    "json: cannot unmarshal string into Go struct field Service.spec of type v1.ServiceSpec"
                ),
                (
                    "/api/v1/namespaces/default/services",
                    #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":{"port":80}}}"#,
                    "Service",
                    "json: cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"
                ),
                (
                    "/api/v1/namespaces/default/secrets",
                    #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"not base64!"}}"#,
                    "Secret",
                    "illegal base64 data at input byte 3"
                ),
                (
                    "/api/v1/namespaces/default/pods",
                    #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"lots"}}}]}}"#,
                    "Pod",
                    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                ),
            ]
            for (path, body, kind, message) in cases {
                let reply = await api.request("POST", path, body: body)
                #expect(reply.status == 400, "\(body): \(reply.text)")
                #expect(
                    reply.json?["message"]?.stringValue
                        == "\(kind) in version \"v1\" cannot be handled as a \(kind): \(message)", "\(reply.text)")
            }
            let quantities =
                #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"500m","memory":1.5e9}}}]}}"#
            let accepted = await api.request("POST", "/api/v1/namespaces/default/pods", body: quantities)
            #expect(accepted.status == 201, "\(accepted.text)")
        }
    }

    /// Objects stored before the check (or by another release) that no longer decode stay readable, listable and
    /// deletable; the restarted server names them.
    @Test func storedObjectsThatNoLongerDecodeAreStillServed() async throws {
        let first = try await InMemoryAPI()
        let path = "/api/v1/namespaces/default/services"
        _ = await first.request(
            "POST", path,
            body: #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"old"},"spec":{"ports":[{"port":80}]}}"#)
        try await first.storeUnchecked(
            prefix: "/services", namespace: "default", name: "old",
            edit: { $0[path: ["spec", "selector"]] = ["app": true] })
        let api = try await first.restarted()
        #expect(
            await api.handler.storedObjectsOutsideTheirSchemas() == [
                "services default/old: json: cannot unmarshal bool into Go struct field ServiceSpec.spec.selector of type string"
            ])
        let read = await api.request("GET", path + "/old")
        #expect(read.status == 200 && read.json?["spec"]?["selector"]?["app"] == true, "\(read.text)")
        let list = await api.request("GET", path)
        #expect(list.json?["items"]?.arrayValue?.contains { $0["metadata"]?["name"] == "old" } == true)
        let deleted = await api.request("DELETE", path + "/old")
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(await api.handler.storedObjectsOutsideTheirSchemas().isEmpty)
        await api.close()
    }

    /// The issue's own case, with the real kubectl: YAML turns `y` into `true`, kube-apiserver's message comes back;
    /// `kubectl explain` prints upstream's field documentation for Service, Pod, Node and EndpointSlice fields.
    @Test func kubectlGetsKubeAPIServersAnswersAndExplanations() async throws {
        try await TestAPIServer.with { server, _ in
            let yes = """
                apiVersion: v1
                kind: Service
                metadata: {name: selector-y}
                spec:
                  selector: {app: y}
                  ports: [{port: 80}]
                """
            let refused = try await server.kubectl("apply", "-f", "-", input: yes)
            #expect(refused.status != 0)
            #expect(
                refused.standardError.contains(
                    #"Service in version "v1" cannot be handled as a Service: json: cannot unmarshal bool into Go struct field ServiceSpec.spec.selector of type string"#
                ), "\(refused.standardError)")
            let typo = """
                apiVersion: v1
                kind: Service
                metadata: {name: typo}
                spec: {ports: [{port: 80, protocl: UDP}]}
                """
            let strict = try await server.kubectl("apply", "-f", "-", input: typo)
            #expect(strict.status != 0)
            #expect(
                strict.standardError.contains(#"strict decoding error: unknown field "spec.ports[0].protocl""#),
                "\(strict.standardError)")
            let warned = try await server.kubectl("apply", "--validate=warn", "-f", "-", input: typo)
            #expect(warned.status == 0, "\(warned.standardError)")
            #expect(
                warned.standardError.contains(#"Warning: unknown field "spec.ports[0].protocl""#),
                "\(warned.standardError)")

            let explained: [(String, String)] = [
                ("service.spec.ports", "The list of ports that are exposed by this service."),
                ("pod.spec.containers", "List of containers belonging to the pod."),
                ("node.spec.podCIDRs", "podCIDRs represents the IP ranges assigned to the node"),
                ("endpointslice.endpoints", "endpoints is a list of unique endpoints in this slice."),
            ]
            for (field, text) in explained {
                let out = try await server.kubectl("explain", field)
                #expect(out.status == 0, "\(field): \(out.standardError)")
                #expect(out.standardOutput.contains(text), "\(field): \(out.standardOutput)")
            }
        }
    }
}
