import KubeAPI
import OrderedCollections
import Testing

@Suite struct JSONTests {
    @Test func parsesAndSerializesKeepingOrder() throws {
        let text = #"{"b":1,"a":[true,false,null],"c":{"d":"x\"y\u00e9\n"},"e":-2.5,"f":12345678901234}"#
        let json = try JSONParser.parse(text)
        #expect(json["b"] == .int(1))
        #expect(json["c"]?["d"]?.stringValue == "x\"yé\n")
        #expect(json["e"] == .double(-2.5))
        #expect(json["f"]?.intValue == 12_345_678_901_234)
        #expect(Array(json.objectValue!.keys) == ["b", "a", "c", "e", "f"])
        #expect(try JSONParser.parse(json.serialized()) == json)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "01", "1.", "\"abc", "{\"a\":1}x", "\"\u{01}\""])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let text = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#).stringValue == "😀")
    }

    @Test func pathAccess() {
        var j: JSON = [:]
        j[path: ["metadata", "labels", "app"]] = "web"
        #expect(j.text() == #"{"metadata":{"labels":{"app":"web"}}}"#)
        j[path: ["metadata", "labels", "app"]] = nil
        #expect(j.text() == #"{}"#)
    }

    @Test func timestamps() {
        #expect(Timestamp.format(epochSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(epochSeconds: 1_795_621_499) == "2026-11-25T15:44:59Z")
        #expect(Timestamp.parse("2026-11-25T15:44:59Z") == 1_795_621_499)
        #expect(Timestamp.parse("2026-11-25T16:44:59+01:00") == 1_795_621_499)
        #expect(Timestamp.parseMicro("1970-01-01T00:00:01.5Z") == 1_500_000)
        #expect(Timestamp.formatMicro(epochMicroseconds: 1_500_000) == "1970-01-01T00:00:01.500000Z")
        #expect(Timestamp.parse("yesterday") == nil)
    }

    @Test func base64() {
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64.decode("a$b") == nil)
    }

    @Test func yamlScalars() throws {
        let docs = try YAMLToJSON.documents("a: 1\nb: \"1\"\nc: true\nd: null\ne: 1.5\nf: text\n---\n---\ng: [x]\n")
        #expect(docs.count == 2)
        #expect(docs[0] == ["a": 1, "b": "1", "c": true, "d": nil, "e": 1.5, "f": "text"])
        #expect(docs[1] == ["g": ["x"]])
    }
}
