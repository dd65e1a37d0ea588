import KubeAPI
import OrderedCollections
import Testing

/// `TypedSchema` and `TypedDecoder` over a small set of definitions in Kubernetes' OpenAPI v3 shape.
@Suite struct TypedDecoderTests {
    static let definitions: JSONObject = {
        let text = #"""
            {
            "io.k8s.api.demo.v1.Thing": {"type":"object","x-kubernetes-group-version-kind":[{"group":"demo","version":"v1","kind":"Thing"}],
              "properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},
                "spec":{"allOf":[{"$ref":"#/components/schemas/io.k8s.api.demo.v1.ThingSpec"}],"default":{}}}},
            "io.k8s.api.demo.v1.ThingSpec": {"type":"object","properties":{
              "name":{"type":"string"},"count":{"type":"integer","format":"int32"},"big":{"type":"integer","format":"int64"},
              "ratio":{"type":"number","format":"double"},"on":{"type":"boolean"},"blob":{"type":"string","format":"byte"},
              "labels":{"type":"object","additionalProperties":{"type":"string"}},
              "parts":{"type":"array","items":{"allOf":[{"$ref":"#/components/schemas/io.k8s.api.demo.v1.Part"}]}},
              "port":{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]},
              "size":{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}]},
              "when":{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}]},
              "raw":{"allOf":[{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.runtime.RawExtension"}]}}},
            "io.k8s.api.demo.v1.Part": {"type":"object","properties":{"id":{"type":"integer","format":"int32"},
              "next":{"allOf":[{"$ref":"#/components/schemas/io.k8s.api.demo.v1.Part"}]}}},
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format":"int-or-string","oneOf":[{"type":"integer"},{"type":"string"}]},
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf":[{"type":"string"},{"type":"number"}]},
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time": {"type":"string","format":"date-time"},
            "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type":"object"}
            }
            """#
        return (try? JSONParser.parse(text))?.objectValue ?? [:]
    }()
    static let schema = TypedSchema(definitions: definitions)

    static func decode(_ text: String) throws -> TypedDecoder.Outcome {
        var duplicates: [String] = []
        let object = try JSONParser.parse(Array(text.utf8), duplicates: &duplicates)
        let root = try #require(schema.kind(group: "demo", version: "v1", kind: "Thing"))
        return TypedDecoder.decode(object, root: root, schema: schema, duplicates: duplicates)
    }

    @Test func compilesGoTypes() throws {
        let spec = try #require(Self.schema.structures.first { $0.name == "ThingSpec" })
        #expect(spec.goType == "v1.ThingSpec")
        #expect(spec.fields["count"] == .int32 && spec.fields["big"] == .int64 && spec.fields["blob"] == .bytes)
        #expect(spec.fields["labels"] == .map(.string) && spec.fields["port"] == .intOrString)
        #expect(
            spec.fields["size"] == .quantity && spec.fields["when"] == .time("v1.Time") && spec.fields["raw"] == .any)
        #expect(Self.schema.goType(spec.fields["parts"]!) == "[]v1.Part")
        #expect(Self.schema.goType(spec.fields["labels"]!) == "map[string]string")
    }

    @Test(arguments: [
        (
            #"{"spec":{"name":5}}"#,
            "json: cannot unmarshal number into Go struct field ThingSpec.spec.name of type string"
        ),
        (
            #"{"spec":{"count":1.5}}"#,
            "json: cannot unmarshal number 1.5 into Go struct field ThingSpec.spec.count of type int32"
        ),
        (
            #"{"spec":{"count":2147483648}}"#,
            "json: cannot unmarshal number 2147483648 into Go struct field ThingSpec.spec.count of type int32"
        ),
        (
            #"{"spec":{"on":"true"}}"#,
            "json: cannot unmarshal string into Go struct field ThingSpec.spec.on of type bool"
        ),
        (
            #"{"spec":{"labels":{"a":{"b":1}}}}"#,
            "json: cannot unmarshal object into Go struct field ThingSpec.spec.labels of type string"
        ),
        (
            #"{"spec":{"labels":[]}}"#,
            "json: cannot unmarshal array into Go struct field ThingSpec.spec.labels of type map[string]string"
        ),
        (
            #"{"spec":{"parts":[{"id":1},{"next":{"id":"x"}}]}}"#,
            "json: cannot unmarshal string into Go struct field Part.spec.parts.next.id of type int32"
        ),
        (#"{"spec":[]}"#, "json: cannot unmarshal array into Go struct field Thing.spec of type v1.ThingSpec"),
        (#"{"spec":{"port":1.5}}"#, "json: cannot unmarshal number into Go value of type int32"),
        (#"{"spec":{"when":3}}"#, "json: cannot unmarshal number into Go value of type string"),
        (#"{"spec":{"blob":"abc"}}"#, "illegal base64 data at input byte 0"),
        (
            #"{"spec":{"size":"1.5.5"}}"#,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ),
        (
            #"{"spec":{"size":"5Qi"}}"#,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ),
        (#"{"spec":{"size":"5iK"}}"#, "unable to parse quantity's suffix"),
        (
            #"{"spec":{"name":1},"spec2":{"x":true}}"#,
            "json: cannot unmarshal number into Go struct field ThingSpec.spec.name of type string"
        ),
    ])
    func wrongTypesGetGosMessage(body: String, message: String) throws {
        #expect(try Self.decode(body).typeError == message)
    }

    @Test func goodValuesPass() throws {
        let outcome = try Self.decode(
            #"""
            {"apiVersion":"demo/v1","kind":"Thing","spec":{"name":null,"count":-3,"big":9007199254740993,"ratio":2,
             "on":false,"blob":"aGVsbG8=\n","labels":{"a":"b"},"parts":[{"id":1,"next":{"id":2}}],"port":"http",
             "size":"128Mi","when":"2026-12-07T00:00:00Z","raw":{"anything":[1,"x",{}]}}}
            """#)
        #expect(outcome.typeError == nil && outcome.strictErrors.isEmpty)
        for size in ["1", "0.5", "+1e3", "2E-2", "100m", "1Ki", "-4"] {
            #expect(try Self.decode(#"{"spec":{"size":"\#(size)"}}"#).typeError == nil, "\(size)")
        }
        #expect(try Self.decode(#"{"spec":{"size":1.5,"port":8080}}"#).typeError == nil)
    }

    @Test func unknownAndDuplicateFieldsInDocumentOrderAndUnknownsDropped() throws {
        let outcome = try Self.decode(
            #"""
            {"spec":{"name":"a","name":"b","extra":1,"extra":2,"parts":[{"id":1,"id":2,"what":true}],
             "labels":{"k":"v","k":"w"}},"top":{}}
            """#)
        #expect(
            outcome.strictErrors == [
                #"duplicate field "spec.name""#, #"unknown field "spec.extra""#, #"duplicate field "spec.parts[0].id""#,
                #"unknown field "spec.parts[0].what""#, #"duplicate field "spec.labels.k""#, #"unknown field "top""#,
            ])
        #expect(
            outcome.object == (try JSONParser.parse(#"{"spec":{"name":"b","parts":[{"id":2}],"labels":{"k":"w"}}}"#)))
        #expect(outcome.unknownFields.map(TypedDecoder.render) == ["spec.extra", "spec.parts[0].what", "top"])
        let sorted = outcome.unknownFields.sorted(by: TypedDecoder.sortedOrder).map(TypedDecoder.render)
        #expect(sorted == ["spec.extra", "spec.parts[0].what", "top"])
    }

    @Test func parserListsDuplicatesByPath() throws {
        var duplicates: [String] = []
        let value = try JSONParser.parse(Array(#"[{"a":1,"a":{"b":1,"b":2}},{"a":1}]"#.utf8), duplicates: &duplicates)
        #expect(duplicates == ["[0].a", "[0].a.b"])
        #expect(value == (try JSONParser.parse(#"[{"a":{"b":2}},{"a":1}]"#)))
    }

    @Test func base64OffsetsAsGoReportsThem() {
        #expect(TypedDecoder.base64Error("aGVsbG8=") == nil)
        #expect(TypedDecoder.base64Error("aGVs\nbG8=") == nil)
        #expect(TypedDecoder.base64Error("aGVsbA==") == nil)
        #expect(TypedDecoder.base64Error("aGV$") == 3)
        #expect(TypedDecoder.base64Error("aGVsbG8") == 4)
        #expect(TypedDecoder.base64Error("a===") == 1)
        #expect(TypedDecoder.base64Error("aGVsbA==aGVs") == 8)
    }
}
