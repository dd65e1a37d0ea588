import Foundation
import KubeAPI
import OrderedCollections
import Testing
import Yams

/// Pylon's YAML reader, case by case and against Yams (libyaml) as the reference on every YAML file of the
/// repository and a corpus of the forms Kubernetes tooling writes.
@Suite struct YAMLReaderTests {
    static let cases: [(String, JSON)] = [
        ("a: 1\nb: text\n", ["a": 1, "b": "text"]),
        ("a:\n  b:\n    c: d\n", ["a": ["b": ["c": "d"]]]),
        ("- a\n- b\n", ["a", "b"]),
        ("key:\n- a\n- b\nnext: 1\n", ["key": ["a", "b"], "next": 1]),
        ("- name: x\n  value: 1\n- name: y\n", [["name": "x", "value": 1], ["name": "y"]]),
        ("- - a\n  - b\n- c\n", [["a", "b"], "c"]),
        ("a: [1, two, \"3\"]\nb: {c: d, e: [f]}\n", ["a": [1, "two", "3"], "b": ["c": "d", "e": ["f"]]]),
        ("a: [\n  1,\n  2,  # two\n]\n", ["a": [1, 2]]),
        (#"{"a": {"b": [1, 2.5, true, null, "x"]}, "c": "d:e"}"#, ["a": ["b": [1, 2.5, true, nil, "x"]], "c": "d:e"]),
        ("a: 'it''s'\nb: \"tab\\tand \\u00e9 \\\"q\\\"\"\n", ["a": "it's", "b": "tab\tand é \"q\""]),
        ("a: \"one\n  two\n\n  three\"\n", ["a": "one two\nthree"]),
        ("a: plain\n  continued\n\n  here\nb: 2\n", ["a": "plain continued\nhere", "b": 2]),
        ("a: |\n  line 1\n  line 2\nb: x\n", ["a": "line 1\nline 2\n", "b": "x"]),
        ("a: |-\n  line 1\n\n  line 3\n\n", ["a": "line 1\n\nline 3"]),
        ("a: |+\n  kept\n\nb: 1\n", ["a": "kept\n\n", "b": 1]),
        ("a: >\n  folded\n  text\n\n  para\n    indented\n  end\n", ["a": "folded text\npara\n  indented\nend\n"]),
        ("a: >-\n  x\n  y\n", ["a": "x y"]),
        ("a: |2\n    two more\n", ["a": "  two more\n"]),
        (
            "mode: 0644\nhex: 0x1F\noct: 0o17\nneg: -12\nbig: 99999999999999999999\n",
            [
                "mode": 420, "hex": 31, "oct": 15, "neg": -12, "big": 1e20,
            ]
        ),
        ("f: 1.5\ne: 1e3\nd: .5\nv: 1.2.3\ns: \"1.5\"\n", ["f": 1.5, "e": 1000.0, "d": 0.5, "v": "1.2.3", "s": "1.5"]),
        (
            "a: yes\nb: Off\nc: ~\nd:\ne: null\nf: \"true\"\n",
            [
                "a": true, "b": false, "c": nil, "d": nil, "e": nil, "f": "true",
            ]
        ),
        ("url: https://example.com:6443/x#y\nc: a #comment\n", ["url": "https://example.com:6443/x#y", "c": "a"]),
        ("# only a comment\na: 1 # trailing\n# between\nb: 2\n", ["a": 1, "b": 2]),
        ("\"quoted key\": 1\n'single': 2\n", ["quoted key": 1, "single": 2]),
        ("a:   \n  - 1\n", ["a": [1]]),
        ("%YAML 1.2\n---\na: 1\n...\n", ["a": 1]),
        ("a: \"\"\nb: ''\nc: []\nd: {}\n", ["a": "", "b": "", "c": [], "d": [:]]),
        (
            "a: &x\n  k: v\nb: *x\nc: [&y 1, *y]\nd: &z 2\ne: *z\nf: &s\n- 1\ng: *s\n",
            [
                "a": ["k": "v"], "b": ["k": "v"], "c": [1, 1], "d": 2, "e": 2, "f": [1], "g": [1],
            ]
        ),
        ("- &a\n- *a\n", [nil, nil]),
    ]

    @Test(arguments: 0..<cases.count)
    func reads(index: Int) throws {
        let (text, expected) = Self.cases[index]
        #expect(try YAMLToJSON.document(text) == expected, "\(text)")
    }

    @Test func documents() throws {
        let docs = try YAMLToJSON.documents("a: 1\n---\n---\n# empty\n---\n- b\n...\n---\nc\n")
        #expect(docs == [["a": 1], ["b"], "c"])
        #expect(try YAMLToJSON.documents("") == [])
        #expect(throws: YAMLError.self) { try YAMLToJSON.document("a: 1\n---\nb: 2\n") }
    }

    static let errors: [(String, Int, String)] = [
        ("a: *x\n", 1, "unknown alias *x"),
        ("a: !!str 1\n", 1, "tags are not supported"),
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate mapping key \"a\""),
        ("a: \"open\nb: 1\n", 1, "a quoted scalar is not closed"),
        ("a: [1, 2\nb: 3\n", 2, "expected \",\" or \"]\" in a flow collection"),
        ("a: [1, 2\n", 1, "a flow collection is not closed"),
        ("a:\n    b: 1\n  c: 2\n", 3, "bad indentation of a mapping entry"),
        ("a: b: c\n", 1, "a mapping cannot start on its key's line"),
        ("a: - x\n", 1, "a sequence cannot start on its key's line"),
        ("- a\n  b: c\n", 2, "a mapping cannot start here (\": \" inside a value)"),
        ("a: 1\n- b\n", 2, "a sequence entry where a mapping key was expected"),
        ("a: \"\\q\"\n", 1, "unknown escape \\q"),
        ("a: [1 2] x\n", 1, "unexpected characters after a value"),
    ]

    @Test(arguments: 0..<errors.count)
    func rejects(index: Int) {
        let (text, line, message) = Self.errors[index]
        do {
            _ = try YAMLToJSON.documents(text)
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.line == line, "\(text)")
            #expect(error.message == message, "\(text)")
        }
    }

    // MARK: Against Yams

    /// Every YAML file in deploy/ and testdata/, and each case above: the same JSON as Yams gives.
    /// How deeply the first members of `json` nest.
    static func depth(_ json: JSON) -> Int {
        var (levels, value) = (0, json)
        while true {
            switch value {
            case .array(let items):
                levels += 1
                guard let first = items.first else { return levels }
                value = first
            case .object(let members):
                levels += 1
                guard let first = members.values.first else { return levels }
                value = first
            default: return levels
            }
        }
    }

    /// Nesting is bounded (issue 21: 50,000 nested sequences overflowed the stack of `pylon server`): block
    /// sequences, block mappings, flow collections and anchor chains, at `JSONParser.maximumDepth` and one past.
    @Test func nestingIsBounded() throws {
        let limit = JSONParser.maximumDepth
        func blockSequences(_ n: Int) -> String { String(repeating: "- ", count: n) + "x\n" }
        func blockMappings(_ n: Int) -> String {
            (0..<n).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " x\n"
        }
        func flow(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        for (form, build) in [("block sequences", blockSequences), ("block mappings", blockMappings), ("flow", flow)] {
            #expect(Self.depth(try YAMLToJSON.document(build(limit))) == limit, "\(form): \(limit) levels read")
            #expect(throws: YAMLError.self, "\(form): one past the limit") { try YAMLToJSON.document(build(limit + 1)) }
        }
        // The request of issue 21: 50,000 nested sequences, block and flow (block mappings that deep would need
        // gigabytes of indentation).
        for (text, column) in [(blockSequences(50_000), 1025), (flow(50_000), 513)] {
            let error = #expect(throws: YAMLError.self) { try YAMLToJSON.document(text) }
            #expect(error?.description == "line 1, column \(column): nesting deeper than \(limit)")
        }
        let anchors = (0..<50_000).map { String(repeating: " ", count: min($0, 1) * 2) + "&a\($0)" }
            .joined(separator: "\n")
        #expect(throws: YAMLError.self) { try YAMLToJSON.document("k: " + anchors + " x\n") }
        #expect(throws: YAMLError(line: 1, column: 7, message: "a node has at most one anchor")) {
            try YAMLToJSON.document("k: &a &b x\n")
        }
    }

    @Test func agreesWithYamsOnTheRepositoryAndTheCases() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var texts: [String: String] = [:]
        for directory in ["deploy", "testdata"] {
            let base = root.appendingPathComponent(directory)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".yaml") {
                texts[directory + "/" + file] = try String(
                    contentsOf: base.appendingPathComponent(file), encoding: .utf8)
            }
        }
        #expect(texts.count >= 25)
        for (index, (text, _)) in Self.cases.enumerated() { texts["case \(index)"] = text }
        for (name, text) in texts.sorted(by: { $0.key < $1.key }) {
            #expect(try YAMLToJSON.documents(text) == Self.reference(text), "\(name)")
        }
    }

    /// Yams' reading converted as Kubernetes does (the converter Pylon used before it had its own reader).
    static func reference(_ text: String) throws -> [JSON] {
        func convert(_ node: Node) -> JSON {
            switch node {
            case .scalar(let scalar):
                guard scalar.style == .plain else { return .string(scalar.string) }
                if node.null != nil { return .null }
                if let b = node.bool { return .bool(b) }
                if let i = node.int { return .int(Int64(i)) }
                if let d = node.float { return .double(d) }
                return .string(scalar.string)
            case .sequence(let sequence): return .array(sequence.map(convert))
            case .mapping(let mapping):
                var object = JSONObject()
                for (key, value) in mapping { object[key.string ?? ""] = convert(value) }
                return .object(object)
            case .alias: return .null
            }
        }
        return try Yams.compose_all(yaml: text).map(convert).filter { !$0.isNull }
    }
}
