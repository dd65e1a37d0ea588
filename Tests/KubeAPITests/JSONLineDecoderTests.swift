import KubeAPI
import Testing

@Suite struct JSONLineDecoderTests {
    @Test func eventsSurviveAnyChunking() throws {
        let big = String(repeating: "x", count: 100_000)
        let stream = Array(
            "{\"type\":\"ADDED\",\"n\":1}\n\n{\"type\":\"MODIFIED\",\"big\":\"\(big)\"}\n{\"type\":\"DELETED\"}\n".utf8)
        for chunkSize in [1, 7, 4096, stream.count] {
            var decoder = JSONLineDecoder()
            var types: [String] = []
            var index = 0
            while index < stream.count {
                decoder.append(stream[index..<min(index + chunkSize, stream.count)])
                index += chunkSize
                while let event = try decoder.next() { types.append(event["type"]?.stringValue ?? "") }
            }
            #expect(types == ["ADDED", "MODIFIED", "DELETED"], "chunk size \(chunkSize)")
            #expect(decoder.pendingCount == 0)
        }
    }

    @Test func limitsAndErrors() {
        var decoder = JSONLineDecoder(maximumLength: 10)
        decoder.append(Array("{\"a\":\"0123456789\"".utf8))
        #expect(throws: JSONError.self) { try decoder.next() }
        var bad = JSONLineDecoder()
        bad.append(Array("not json\n".utf8))
        #expect(throws: JSONError.self) { try bad.next() }
    }
}
