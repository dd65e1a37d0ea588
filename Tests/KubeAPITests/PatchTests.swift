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

    /// Issue 21: JSON patches are bounded as kube-apiserver bounds them: operation count, accumulated copies, and
    /// how deep an operation may place a value (at the limit and one past), so no patch builds a document the
    /// parser would refuse or one that grows without bound.
    @Test func jsonPatchLimits() throws {
        let limit = JSONParser.maximumDepth
        func nested(_ levels: Int) -> JSON {
            var value: JSON = []
            for _ in 1..<max(levels, 1) { value = [value] }
            return levels == 0 ? 1 : value
        }
        #expect(nested(limit).nestingDepth == limit)
        #expect(JSON.int(1).nestingDepth == 0)
        #expect((["a": [1, ["b": []]]] as JSON).nestingDepth == 4)
        let target: JSON = ["a": ["b": 1]]
        // At the limit: a value 510 deep under /a/x (2 levels) is 512 deep.
        let atLimit = try JSONPatch.apply([["op": "add", "path": "/a/x", "value": nested(limit - 2)]], to: target)
        #expect(atLimit.nestingDepth == limit)
        #expect(throws: PatchError("add operation at /a/x would nest the document deeper than \(limit)")) {
            try JSONPatch.apply([["op": "add", "path": "/a/x", "value": nested(limit - 1)]], to: target)
        }
        // Copying a deep value below itself.
        let deep = try JSONPatch.apply([["op": "add", "path": "/d", "value": nested(300)]], to: target)
        let below = "/d" + String(repeating: "/0", count: 250)
        #expect(throws: PatchError.self) {
            try JSONPatch.apply([["op": "copy", "from": "/d", "path": .string(below)]], to: deep)
        }
        // A pointer deeper than the limit is refused before it is followed.
        let longPointer = String(repeating: "/0", count: limit + 1)
        #expect(throws: PatchError.self) {
            try JSONPatch.apply([["op": "test", "path": .string(longPointer), "value": 1]], to: target)
        }
        // Operation count.
        let many = JSON.array(Array(repeating: ["op": "test", "path": "/a/b", "value": 1], count: 10_001))
        #expect(
            throws: PatchError("the patch has 10001 operations; at most \(JSONPatch.maximumOperations) are allowed")
        ) { try JSONPatch.apply(many, to: target) }
        let allowed = JSON.array(Array(repeating: ["op": "test", "path": "/a/b", "value": 1], count: 10_000))
        #expect(try JSONPatch.apply(allowed, to: target) == target)
        // Copies that would double a document until it fills memory stop at the copy budget.
        var doubling: [JSON] = [
            ["op": "add", "path": "/big", "value": .string(String(repeating: "x", count: 100_000))]
        ]
        for i in 0..<64 { doubling.append(["op": "copy", "from": "", "path": .string("/c\(i)")]) }
        #expect(
            throws: PatchError(
                "the patch copies more than \(JSONPatch.maximumCopiedBytes) bytes; that is the most allowed")
        ) {
            try JSONPatch.apply(.array(doubling), to: target)
        }
    }
}
