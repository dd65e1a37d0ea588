import NIOCore
import PylonTestSupport
import Testing

@_spi(Fuzzing) @testable import KubeClient

@Suite struct HTTPResponseParserTests {
    /// What a parser made of some input: the heads, the body bytes of each response, how many ended.
    struct Outcome: Equatable {
        var heads: [HTTPResponseParser.Part] = []
        var bodies: [[UInt8]] = []
        var ends = 0
    }

    /// Feeds `text` in pieces of `step` bytes (all at once when nil), then the connection's close when `close`.
    static func parse(
        _ text: String, step: Int? = nil, close: Bool = false, bodyAllowed: Bool = true
    ) throws(HTTPResponseParser.ParseError) -> Outcome {
        var parser = HTTPResponseParser()
        parser.expectResponse(bodyAllowed: bodyAllowed)
        var outcome = Outcome()
        func take(_ part: HTTPResponseParser.Part) {
            switch part {
            case .head:
                outcome.heads.append(part)
                outcome.bodies.append([])
            case .body(let piece): outcome.bodies[outcome.bodies.count - 1] += Array(piece.readableBytesView)
            case .end: outcome.ends += 1
            }
        }
        let bytes = Array(text.utf8)
        let size = step ?? max(bytes.count, 1)
        var offset = 0
        while offset < bytes.count {
            parser.feed(ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)]))
            offset += size
            while let part = try parser.next() { take(part) }
        }
        if close, let part = try parser.finish() { take(part) }
        return outcome
    }

    static func head(_ status: Int, _ reason: String, keepAlive: Bool = true) -> HTTPResponseParser.Part {
        .head(status: status, reason: reason, keepAlive: keepAlive)
    }

    @Test func contentLengthBodyInOnePieceOrByteByByte() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        for step in [nil, 1, 2, 5] {
            let outcome = try Self.parse(text, step: step)
            #expect(outcome == Outcome(heads: [Self.head(200, "OK")], bodies: [Array("{\"a\":1}".utf8)], ends: 1))
        }
    }

    @Test func chunkedBodyWithExtensionsAndTrailersAtEverySplit() throws {
        let text =
            "HTTP/1.1 201 Created\r\ntransfer-encoding:  Chunked \r\n\r\n"
            + "5;name=value\r\nhello\r\n19\r\n, and a chunk of 25 bytes\r\n0\r\nX-Trailer: t\r\n\r\n"
        for step in 1...text.utf8.count {
            let outcome = try Self.parse(text, step: step)
            #expect(
                outcome
                    == Outcome(
                        heads: [Self.head(201, "Created")], bodies: [Array("hello, and a chunk of 25 bytes".utf8)],
                        ends: 1), "pieces of \(step) bytes")
        }
    }

    @Test func responsesOneAfterAnotherAndInterimOnesSkipped() throws {
        let text =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" + "HTTP/1.1 204 No Content\r\n\r\n"
        let outcome = try Self.parse(text)
        #expect(outcome.heads == [Self.head(200, "OK"), Self.head(404, "Not Found"), Self.head(204, "No Content")])
        #expect(outcome.bodies == [Array("ok".utf8), [], []])
        #expect(outcome.ends == 3)
    }

    @Test func bodyUntilCloseEndsWithTheConnection() throws {
        let text = "HTTP/1.1 200 OK\r\n\r\nall of this"
        let open = try Self.parse(text)
        #expect(open.heads == [Self.head(200, "OK", keepAlive: false)])
        #expect(open.ends == 0)
        let closed = try Self.parse(text, step: 3, close: true)
        #expect(
            closed
                == Outcome(
                    heads: [Self.head(200, "OK", keepAlive: false)], bodies: [Array("all of this".utf8)], ends: 1))
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true),
        // Both framings: chunked wins and the connection is not reused (RFC 9112 §6.3).
        ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc", true),
        ("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", true),
    ])
    func keepAliveFollowsVersionAndHeaders(text: String, keepAlive: Bool) throws {
        let outcome = try Self.parse(text)
        guard case .head(200, _, let reusable) = outcome.heads.first else {
            Issue.record("no head parsed from \(text.debugDescription)")
            return
        }
        #expect(reusable == keepAlive)
        #expect(outcome.ends == 1)
    }

    @Test func answerToHeadHasNoBody() throws {
        let outcome = try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n", bodyAllowed: false)
        #expect(outcome == Outcome(heads: [Self.head(200, "OK")], bodies: [[]], ends: 1))
    }

    @Test(arguments: [
        ("HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x status line"),
        ("HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version"),
        ("HTTP/1.1 2x0 OK\r\n\r\n", "status code is not three digits"),
        ("HTTP/1.1 099 Low\r\n\r\n", "status code below 100"),
        ("HTTP/1.1 200OK\r\n\r\n", "no space after the status code"),
        ("HTTP/1.1 200 OK\n\n", "does not end with CRLF"),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected 101"),
        ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header name"),
        ("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "malformed header name"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting Content-Length"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "empty chunk size line"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "chunk size too large"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its size"),
    ])
    func malformedResponsesAreNamed(text: String, expected: String) {
        for step in [nil, 1] {
            #expect {
                _ = try Self.parse(text, step: step)
            } throws: { error in
                (error as? HTTPResponseParser.ParseError)?.description.contains(expected) == true
            }
        }
    }

    @Test func oversizedLinesAndHeadsAndCutResponsesAreRefused() {
        // Refused alike whether the line's end came with it or not (at once, the limit was not checked: fuzz-http).
        let longLine = "HTTP/1.1 200 " + String(repeating: "x", count: HTTPResponseParser.maximumLineBytes + 1)
        for (text, step) in [(longLine, 4096), (longLine + "\r\n\r\n", nil), (longLine + "\r\n\r\n", 4096)] {
            #expect {
                _ = try Self.parse(text, step: step)
            } throws: { error in
                (error as? HTTPResponseParser.ParseError)?.description.contains("line of the response is longer")
                    == true
            }
        }
        let header = "X-Filler: " + String(repeating: "y", count: 1000) + "\r\n"
        let manyHeaders = "HTTP/1.1 200 OK\r\n" + String(repeating: header, count: 300) + "\r\n"
        #expect {
            _ = try Self.parse(manyHeaders, step: 4096)
        } throws: { error in
            (error as? HTTPResponseParser.ParseError)?.description.contains("head is longer than") == true
        }
        #expect {
            _ = try Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close: true)
        } throws: { error in
            (error as? HTTPResponseParser.ParseError)?.description.contains("closed in the middle") == true
        }
        // A close between responses is no error.
        #expect((try? Self.parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", close: true))?.ends == 1)
    }

    /// Seeded random responses — random bodies, framed by length or in random chunks, sent in random pieces —
    /// come out exactly as they went in.
    @Test func randomResponsesInRandomPiecesRoundTrip() throws {
        var random = SeededGenerator(seed: 0x5EED_0201)
        for round in 0..<300 {
            let body = (0..<Int.random(in: 0...3000, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            var bytes = Array("HTTP/1.1 200 OK\r\nServer: test\r\n".utf8)
            if Bool.random(using: &random) {
                bytes += Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body
            } else {
                bytes += Array("Transfer-Encoding: chunked\r\n\r\n".utf8)
                var rest = body[...]
                while !rest.isEmpty {
                    let size = Int.random(in: 1...max(1, rest.count), using: &random)
                    bytes += Array(String(size, radix: 16).utf8) + [13, 10] + rest.prefix(size) + [13, 10]
                    rest = rest.dropFirst(size)
                }
                bytes += Array("0\r\n\r\n".utf8)
            }
            var parser = HTTPResponseParser()
            var received: [UInt8] = []
            var ends = 0
            var offset = 0
            while offset < bytes.count {
                let size = Int.random(in: 1...512, using: &random)
                parser.feed(ByteBuffer(bytes: bytes[offset..<min(offset + size, bytes.count)]))
                offset += size
                while let part = try parser.next() {
                    if case .body(let piece) = part { received += Array(piece.readableBytesView) }
                    if case .end = part { ends += 1 }
                }
            }
            #expect(received == body, "round \(round)")
            #expect(ends == 1 && parser.isIdle, "round \(round)")
        }
    }
}
