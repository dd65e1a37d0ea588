import KubeAPI
import PylonTestSupport
import Testing

/// `APIHandler` driven in memory (`InMemoryAPI`): requests in, responses out, no TLS, no port.
@Suite struct APIHandlerTests {
    static let configMap = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"k":"v"}}"#
    static let collection = "/api/v1/namespaces/default/configmaps"

    static func with(_ body: (InMemoryAPI) async throws -> Void) async throws {
        let api = try await InMemoryAPI()
        do {
            try await body(api)
        } catch {
            await api.close()
            throw error
        }
        await api.close()
    }

    @Test func createStoresTheObjectAndAnswers201() async throws {
        try await Self.with { api in
            let created = await api.request("POST", Self.collection, body: Self.configMap)
            #expect(created.status == 201, "\(created.text)")
            let object = try #require(created.json)
            #expect(object["metadata"]?["namespace"] == "default")
            #expect(object["metadata"]?["uid"]?.stringValue?.isEmpty == false)
            #expect(object["metadata"]?["resourceVersion"]?.stringValue?.isEmpty == false)
            let read = await api.request("GET", Self.collection + "/settings")
            #expect(read.status == 200 && read.json?["data"]?["k"] == "v")
        }
    }

    @Test func aSecondCreateIsAConflictNamingTheObject() async throws {
        try await Self.with { api in
            _ = await api.request("POST", Self.collection, body: Self.configMap)
            let again = await api.request("POST", Self.collection, body: Self.configMap)
            #expect(again.status == 409)
            let status = try #require(again.json)
            #expect(status["kind"] == "Status" && status["reason"] == "AlreadyExists")
            #expect(status["message"] == #"configmaps "settings" already exists"#)
        }
    }

    @Test func anUpdateWithAStaleResourceVersionIsAConflict() async throws {
        try await Self.with { api in
            let created = try #require(await api.request("POST", Self.collection, body: Self.configMap).json)
            var first = created
            first["data"] = ["k": "first"]
            #expect(
                await api.request(
                    "PUT", Self.collection + "/settings", body: String(decoding: first.serialized(), as: UTF8.self)
                ).status == 200)
            var stale = created
            stale["data"] = ["k": "stale"]
            let refused = await api.request(
                "PUT", Self.collection + "/settings", body: String(decoding: stale.serialized(), as: UTF8.self))
            #expect(refused.status == 409 && refused.json?["reason"] == "Conflict", "\(refused.text)")
            #expect(await api.request("GET", Self.collection + "/settings").json?["data"]?["k"] == "first")
        }
    }

    @Test func aMalformedBodyIsA400AndStoresNothing() async throws {
        try await Self.with { api in
            let broken = await api.request("POST", Self.collection, body: #"{"apiVersion":"v1","kind":"ConfigMap","#)
            #expect(broken.status == 400, "\(broken.text)")
            #expect(broken.json?["kind"] == "Status" && broken.json?["reason"] == "BadRequest")
            let notAnObject = await api.request("POST", Self.collection, body: "[1, 2]")
            #expect(notAnObject.status == 400)
            let list = await api.request("GET", Self.collection)
            #expect(list.json?["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func aWatchStreamsCreationsAsTheyHappen() async throws {
        try await Self.with { api in
            let stream = try await api.watch(Self.collection)
            var lines = stream.makeAsyncIterator()
            _ = await api.request("POST", Self.collection, body: Self.configMap)
            let line = try #require(await lines.next())
            let event = try JSONParser.parse(String(decoding: line, as: UTF8.self))
            #expect(event["type"] == "ADDED")
            #expect(event["object"]?["metadata"]?["name"] == "settings")
            _ = await api.request("DELETE", Self.collection + "/settings")
            let deleted = try JSONParser.parse(String(decoding: try #require(await lines.next()), as: UTF8.self))
            #expect(deleted["type"] == "DELETED")
        }
    }
}
