import KubeAPI
import Testing

@Suite struct PatchTests {
    // RFC 7386 appendix A, a selection.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
    ])
    func mergePatch(target: String, patch: String, expected: String) throws {
        let result = JSONMergePatch.apply(try JSONParser.parse(patch), to: try JSONParser.parse(target))
        #expect(result == (try JSONParser.parse(expected)))
    }

    @Test func jsonPatch() throws {
        let doc = try JSONParser.parse(#"{"a":{"b":[1,2]},"c":"x"}"#)
        let patch = try JSONParser.parse(
            #"""
            [{"op":"add","path":"/a/b/1","value":9},{"op":"add","path":"/a/b/-","value":3},
             {"op":"remove","path":"/c"},{"op":"add","path":"/a/d~1e","value":true},
             {"op":"copy","from":"/a/b/0","path":"/f"},{"op":"move","from":"/f","path":"/g"},
             {"op":"test","path":"/g","value":1}]
            """#)
        let result = try JSONPatch.apply(patch, to: doc)
        #expect(result == (try JSONParser.parse(#"{"a":{"b":[1,9,2,3],"d/e":true},"g":1}"#)))
        #expect(throws: PatchError.self) {
            try JSONPatch.apply(try JSONParser.parse(#"[{"op":"remove","path":"/nope"}]"#), to: doc)
        }
        #expect(throws: PatchError.self) {
            try JSONPatch.apply(try JSONParser.parse(#"[{"op":"test","path":"/c","value":"y"}]"#), to: doc)
        }
    }

    static let serviceSchema = PatchSchema.object([
        "spec": .object(["ports": .mergeList(key: "port")]),
        "metadata": .object(["finalizers": .mergeList(key: nil)]),
    ])

    @Test func strategicMergesListsByKey() throws {
        let svc = try JSONParser.parse(
            #"{"spec":{"ports":[{"port":80,"name":"web"},{"port":443,"name":"tls"}],"selector":{"a":"b"}}}"#)
        let patch = try JSONParser.parse(#"{"spec":{"ports":[{"port":443,"name":"secure"},{"port":9000,"name":"x"}]}}"#)
        let result = try StrategicMergePatch.apply(patch, to: svc, schema: Self.serviceSchema)
        #expect(
            result["spec"]?["ports"]
                == (try JSONParser.parse(
                    #"[{"port":80,"name":"web"},{"port":443,"name":"secure"},{"port":9000,"name":"x"}]"#)))
        #expect(result["spec"]?["selector"] == ["a": "b"])
    }

    @Test func strategicDirectives() throws {
        let svc = try JSONParser.parse(
            #"{"metadata":{"finalizers":["a","b"]},"spec":{"ports":[{"port":80},{"port":443}],"selector":{"x":"1","y":"2"}}}"#
        )
        let patch = try JSONParser.parse(
            #"""
            {"$setElementOrder/metadata":null,
             "metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]},
             "spec":{"$setElementOrder/ports":[{"port":443},{"port":80}],
                     "ports":[{"port":80,"$patch":"delete"},{"port":443,"name":"tls"}],
                     "selector":{"$patch":"replace","z":"3"}}}
            """#)
        var p = patch
        p["$setElementOrder/metadata"] = nil
        let result = try StrategicMergePatch.apply(p, to: svc, schema: Self.serviceSchema)
        #expect(result["metadata"]?["finalizers"] == ["b", "c"])
        #expect(result["spec"]?["ports"] == (try JSONParser.parse(#"[{"port":443,"name":"tls"}]"#)))
        #expect(result["spec"]?["selector"] == ["z": "3"])
    }

    @Test func strategicUnknownListsReplace() throws {
        let target = try JSONParser.parse(#"{"spec":{"externalIPs":["1","2"]}}"#)
        let result = try StrategicMergePatch.apply(
            try JSONParser.parse(#"{"spec":{"externalIPs":["3"]}}"#), to: target, schema: Self.serviceSchema)
        #expect(result["spec"]?["externalIPs"] == ["3"])
        #expect(throws: PatchError.self) {
            try StrategicMergePatch.apply(
                try JSONParser.parse(#"{"spec":{"ports":[{"name":"nokey"}]}}"#), to: target, schema: Self.serviceSchema)
        }
    }
}
