import Foundation
import KubeAPI
import KubeClient
import PylonTestSupport
import Testing

/// Bad requests get the status code and reason kube-apiserver gives, and the server keeps serving.
@Suite(.timeLimit(.minutes(5))) struct BadInputTests {
    static func status(_ body: [UInt8]) -> Status? {
        (try? JSONParser.parse(body)).flatMap(Status.init(json:))
    }

    /// Issue 21: a body nested past `JSONParser.maximumDepth` (50,000 YAML sequences overflowed the server's stack)
    /// gets a 400 naming the limit, in every body format, and the server keeps serving; at the limit it is accepted.
    /// The objects are of a custom resource that keeps any field (built-in kinds drop unknown fields).
    @Test func deeplyNestedBodies() async throws {
        try await TestAPIServer.with { server, client in
            let limit = JSONParser.maximumDepth
            let crd = """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: nests.example.com}
                spec:
                  group: example.com
                  scope: Namespaced
                  names: {plural: nests, singular: nest, kind: Nest}
                  versions:
                  - name: v1
                    served: true
                    storage: true
                    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
                """
            let installed = try await server.kubectl("apply", "-f", "-", input: crd)
            #expect(installed.status == 0, "\(installed.standardError)")
            let path = "/apis/example.com/v1/namespaces/default/nests"
            /// A Nest whose field `x` nests `levels` arrays inside the object (one level itself).
            func json(_ name: String, levels: Int) -> [UInt8] {
                Array(
                    (#"{"apiVersion":"example.com/v1","kind":"Nest","metadata":{"name":"\#(name)"},"x":"#
                        + String(repeating: "[", count: levels) + String(repeating: "]", count: levels) + "}").utf8)
            }
            let cases: [(String, [UInt8], String)] = [
                (
                    "YAML, 50,000 sequences", Array((String(repeating: "- ", count: 50_000) + "x\n").utf8),
                    "application/yaml"
                ),
                (
                    "YAML flow, one past",
                    Array(
                        (#"{"x": "# + String(repeating: "[", count: limit) + String(repeating: "]", count: limit) + "}")
                            .utf8), "application/yaml"
                ),
                ("JSON, one past", json("past", levels: limit), "application/json"),
                ("JSON, 50,000", json("far", levels: 50_000), "application/json"),
            ]
            for (what, body, type) in cases {
                let (code, bytes) = try await client.raw("POST", path, body: body, contentType: type)
                let status = Self.status(bytes)
                #expect(code == 400, "\(what)")
                #expect(status?.reason == "BadRequest", "\(what)")
                #expect(
                    status?.message.contains("nesting deeper than \(limit)") == true,
                    "\(what): \(status?.message ?? "")")
            }
            let (accepted, body) = try await client.raw(
                "POST", path, body: json("at-limit", levels: limit - 1), contentType: "application/json")
            #expect(accepted == 201, "\(String(decoding: body, as: UTF8.self).prefix(300))")
            // Patches, at the limit and one past: the merge patch's own nesting, the JSON patch's placement.
            func nestedText(_ levels: Int) -> String {
                String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
            }
            let object = path + "/at-limit"
            let patches: [(String, String, Int, String)] = [
                ("application/merge-patch+json", #"{"x":"# + nestedText(limit - 1) + "}", 200, ""),
                (
                    "application/merge-patch+json", #"{"x":"# + nestedText(limit) + "}", 400,
                    "nesting deeper than \(limit)"
                ),
                // A JSON patch body nests its value two levels down, so 510 levels is the most one can carry: at
                // /y/0 (two levels into the object) that makes the document 512 deep, at /y/0/0 one past.
                (
                    "application/json-patch+json", #"[{"op":"add","path":"/y","value":"# + nestedText(limit - 2) + "}]",
                    200, ""
                ),
                (
                    "application/json-patch+json",
                    #"[{"op":"add","path":"/y/0","value":"# + nestedText(limit - 2) + "}]", 200, ""
                ),
                (
                    "application/json-patch+json",
                    #"[{"op":"add","path":"/y/0/0","value":"# + nestedText(limit - 2) + "}]",
                    400, "add operation at /y/0/0 would nest the document deeper than \(limit)"
                ),
            ]
            for (type, patch, code, message) in patches {
                let (got, bytes) = try await client.raw("PATCH", object, body: Array(patch.utf8), contentType: type)
                #expect(got == code, "\(type): \(String(decoding: bytes, as: UTF8.self).prefix(300))")
                if !message.isEmpty { #expect(Self.status(bytes)?.message.contains(message) == true, "\(type)") }
            }
            #expect(try await client.raw("GET", "/api/v1/namespaces").status == 200, "still serving")
        }
    }

    /// Hostile protobuf bodies get a 400 and the server keeps serving: a length varint of 2^63 (which trapped the
    /// server converting it to Int), truncated and oversized lengths, and seeded random bodies after the envelope.
    @Test func hostileProtobufBodies() async throws {
        try await TestAPIServer.with { server, client in
            let path = "/api/v1/namespaces"
            let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]
            let huge: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]  // 2^63
            let bodies: [[UInt8]] = [
                magic + [0x12] + huge, magic + [0x0A] + huge, magic + [0x12, 0x7F, 0x01],
                magic + [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], magic + [0x0B],
            ]
            var rng = SeededGenerator(seed: 21)
            var random: [[UInt8]] = []
            for _ in 0..<200 {
                let count = Int.random(in: 0..<64, using: &rng)
                random.append(magic + (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            for body in bodies + random {
                let (code, bytes) = try await client.raw(
                    "POST", path, body: body, contentType: "application/vnd.kubernetes.protobuf")
                #expect(
                    [400, 415, 422].contains(code), "\(body): \(String(decoding: bytes, as: UTF8.self).prefix(200))")
            }
            for body in bodies {
                let (code, _) = try await client.raw(
                    "POST", path, body: body, contentType: "application/vnd.kubernetes.protobuf")
                #expect(code == 400, "\(body)")
            }
            // Nesting in protobuf follows the kind's schema, never the input: 10,000 nested messages in a field the
            // schema does not know are skipped whole, without a recursion, and the Namespace is created.
            func varint(_ value: Int) -> [UInt8] {
                var value = value
                var bytes: [UInt8] = []
                repeat {
                    bytes.append(UInt8(value & 0x7F) | (value > 0x7F ? 0x80 : 0))
                    value >>= 7
                } while value > 0
                return bytes
            }
            func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
                varint(number << 3 | 2) + varint(payload.count) + payload
            }
            var nested: [UInt8] = []
            for _ in 0..<10_000 { nested = field(99, nested) }
            let metadata = field(1, Array("deep".utf8)) + field(99, nested)
            let envelope =
                magic + field(1, field(1, Array("v1".utf8)) + field(2, Array("Namespace".utf8)))
                + field(2, field(1, metadata))
            let (created, createdBody) = try await client.raw(
                "POST", path, body: envelope, contentType: "application/vnd.kubernetes.protobuf")
            #expect(created == 201, "\(String(decoding: createdBody, as: UTF8.self).prefix(300))")
            #expect(try await client.raw("GET", path + "/deep").status == 200, "still serving")
        }
    }

    /// A CRD pattern that makes a backtracking matcher take exponential time (`^(a+)+$`: Swift's `Regex` took
    /// 5.5 s for eighteen `a`s, minutes for thirty) is matched in linear time, as kube-apiserver's RE2 does: forty
    /// `a`s and a `!` are refused at once with the pattern named, and the server keeps serving.
    @Test func catastrophicCRDPatterns() async throws {
        try await TestAPIServer.with { server, client in
            let crd: JSON = [
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": ["name": "widgets.example.com"],
                "spec": [
                    "group": "example.com", "scope": "Namespaced",
                    "names": ["plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"],
                    "versions": [
                        [
                            "name": "v1", "served": true, "storage": true,
                            "schema": [
                                "openAPIV3Schema": [
                                    "type": "object",
                                    "properties": [
                                        "spec": [
                                            "type": "object",
                                            "properties": ["name": ["type": "string", "pattern": "^(a+)+$"]],
                                        ]
                                    ],
                                ]
                            ],
                        ]
                    ],
                ],
            ]
            let (created, body) = try await client.raw(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: crd.serialized())
            #expect(created == 201, "\(String(decoding: body, as: UTF8.self).prefix(300))")
            let path = "/apis/example.com/v1/namespaces/default/widgets"
            try await eventually("the widgets resource is served") {
                try await client.raw("GET", path).status == 200
            }
            func widget(_ name: String, _ value: String) -> [UInt8] {
                let object: JSON = [
                    "apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": .string(name)],
                    "spec": ["name": .string(value)],
                ]
                return object.serialized()
            }
            let (refused, refusal) = try await client.raw(
                "POST", path, body: widget("bad", String(repeating: "a", count: 40) + "!"))
            #expect(refused == 422)
            #expect(Self.status(refusal)?.message.contains("should match '^(a+)+$'") == true)
            #expect(
                try await client.raw("POST", path, body: widget("good", String(repeating: "a", count: 40))).status
                    == 201)
            #expect(try await client.raw("GET", path + "/good").status == 200, "still serving")
            // A pattern RE2 cannot compile refuses the CRD, as kube-apiserver does, naming the field and the problem.
            var broken = crd
            broken["metadata"]?["name"] = "gadgets.example.com"
            broken["spec"]?["names"] = ["plural": "gadgets", "singular": "gadget", "kind": "Gadget"]
            let versions = broken["spec"]?["versions"]?.arrayValue ?? []
            var version = versions[0]
            version["schema"]?["openAPIV3Schema"]?["properties"]?["spec"]?["properties"]?["name"]?["pattern"] = "(?=x)"
            broken["spec"]?["versions"] = [version]
            let (invalid, invalidBody) = try await client.raw(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: broken.serialized())
            #expect(invalid == 422)
            let cause = Self.status(invalidBody)?.causes.first
            #expect(
                cause?.field
                    == "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[name].pattern")
            #expect(
                cause?.message.contains(
                    "must be a valid regular expression, but isn't: error parsing regexp: "
                        + "invalid or unsupported Perl syntax: `(?=`") == true, "\(cause?.message ?? "")")
        }
    }

    @Test func rawRequests() async throws {
        try await TestAPIServer.with { server, client in
            var anonymousConfiguration = client.configuration
            anonymousConfiguration.credentials = .none
            let anonymous = try KubeClient(configuration: anonymousConfiguration)
            var wrongConfiguration = client.configuration
            wrongConfiguration.credentials = .token("not-the-token")
            let wrong = try KubeClient(configuration: wrongConfiguration)
            do {
                _ = try await server.kubectl("apply", "-k", KubectlTests.path("deploy/crds/"))
                _ = try await server.kubectl("create", "namespace", "metallb-system")
                let cases: [(String, String, String, String, Int, String)] = [
                    (
                        "POST", "/api/v1/namespaces/default/configmaps", "{\"apiVersion\":", "application/json", 400,
                        "BadRequest"
                    ),
                    ("POST", "/api/v1/namespaces/default/configmaps", "a: [b\n", "application/yaml", 400, "BadRequest"),
                    ("POST", "/api/v1/namespaces/default/configmaps", "{}", "text/plain", 415, "UnsupportedMediaType"),
                    (
                        "POST", "/api/v1/namespaces/default/configmaps",
                        #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#, "application/json", 400,
                        "BadRequest"
                    ),
                    ("GET", "/api/v1/namespaces/default/frobnicators", "", "application/json", 404, "NotFound"),
                    ("GET", "/apis/metallb.io/v9/ipaddresspools", "", "application/json", 404, "NotFound"),
                    (
                        "POST", "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools",
                        #"{"apiVersion":"metallb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"p"},"spec":{"addresses":"192.0.2.0/24"}}"#,
                        "application/json", 422, "Invalid"
                    ),
                    ("PUT", "/api/v1/namespaces/default/configmaps", "{}", "application/json", 405, "MethodNotAllowed"),
                    (
                        "GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%3D%3D%3Db", "",
                        "application/json", 400, "BadRequest"
                    ),
                    ("GET", "/api/v1/events?fieldSelector=spec.nope%3Dx", "", "application/json", 400, "BadRequest"),
                ]
                for (method, path, body, type, code, reason) in cases {
                    let (status, bytes) = try await client.raw(
                        method, path, body: body.isEmpty ? nil : Array(body.utf8), contentType: type)
                    #expect(status == code, "\(method) \(path): \(String(decoding: bytes, as: UTF8.self))")
                    #expect(Self.status(bytes)?.reason == reason, "\(method) \(path)")
                }

                // Stale resourceVersion on update.
                _ = try await client.create(
                    .configMaps, namespace: "default",
                    ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "cm"]])
                let stale: JSON = [
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "cm", "resourceVersion": "1"],
                ]
                let (conflict, conflictBody) = try await client.raw(
                    "PUT", "/api/v1/namespaces/default/configmaps/cm", body: stale.serialized())
                #expect(conflict == 409)
                #expect(Self.status(conflictBody)?.reason == "Conflict")

                // Missing and wrong tokens; health stays public.
                #expect(try await anonymous.raw("GET", "/api/v1/namespaces").status == 401)
                #expect(Self.status(try await wrong.raw("GET", "/api/v1/namespaces").body)?.reason == "Unauthorized")
                #expect(try await anonymous.raw("GET", "/readyz").status == 200)

                // Plain HTTP to the HTTPS port.
                let plain = try await ChildProcess.run("curl", ["-s", "-i", "http://127.0.0.1:\(server.port)/api"])
                #expect(plain.standardOutput.hasPrefix("HTTP/1.0 400 Bad Request"), "\(plain.standardOutput)")
                #expect(plain.standardOutput.contains("Client sent an HTTP request to an HTTPS server."))

                // Still serving everyone else.
                #expect(
                    try await client.get(.configMaps, namespace: "default", name: "cm")["metadata"]?["name"] == "cm")
            } catch {
                try? await anonymous.shutdown()
                try? await wrong.shutdown()
                throw error
            }
            try await anonymous.shutdown()
            try await wrong.shutdown()
        }
    }
}
