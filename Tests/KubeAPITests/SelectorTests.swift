import KubeAPI
import Testing

@Suite struct SelectorTests {
    @Test func labelSelectorString() throws {
        let s = try LabelSelector(parsing: "app=web, tier!=db,env in (prod,staging),!legacy,owner")
        #expect(s.matches(["app": "web", "env": "prod", "owner": "x"]))
        #expect(!s.matches(["app": "web", "env": "prod", "owner": "x", "legacy": "1"]))
        #expect(!s.matches(["app": "web", "env": "dev", "owner": "x"]))
        #expect(!s.matches(["app": "web", "env": "prod", "owner": "x", "tier": "db"]))
        #expect(try LabelSelector(parsing: "").isEverything)
        #expect(try LabelSelector(parsing: "a notin (x)").matches([:]))
    }

    @Test(arguments: ["a=b=c", "a in x", "=b", "a in (x", "-a=b"])
    func labelSelectorErrors(text: String) {
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: text) }
    }

    @Test func structuredSelector() throws {
        let json: JSON = [
            "matchLabels": ["a": "1"],
            "matchExpressions": [
                ["key": "b", "operator": "In", "values": ["x", "y"]], ["key": "c", "operator": "DoesNotExist"],
            ],
        ]
        let s = try LabelSelector(json: json)
        #expect(s.matches(["a": "1", "b": "y"]))
        #expect(!s.matches(["a": "1", "b": "y", "c": ""]))
        #expect(try LabelSelector(json: nil).isEverything)
        #expect(throws: SelectorError.self) {
            try LabelSelector(json: ["matchExpressions": [["key": "b", "operator": "Has"]]])
        }
        #expect(throws: SelectorError.self) {
            try LabelSelector(json: ["matchExpressions": [["key": "b", "operator": "In"]]])
        }
    }

    @Test func fieldSelector() throws {
        let s = try FieldSelector(parsing: "involvedObject.name=web,type!=Normal")
        #expect(s.matches { ["involvedObject.name": "web", "type": "Warning"][$0] })
        #expect(!s.matches { ["involvedObject.name": "web", "type": "Normal"][$0] })
        #expect(throws: SelectorError.self) { try FieldSelector(parsing: "nooperator") }
    }
}
