import FuzzDriver
import KubeAPI
@_spi(Fuzzing) import KubeClient
import NIOCore

/// What an API server (or anything answering on its address) sends back: the response parser reads the same
/// responses, or fails with the same error, whether the bytes arrive at once or in pieces; no input traps. Every
/// body also goes through the watch stream's line decoder.
///
/// The first byte chooses the piece size (1…64 bytes) and whether the request was a HEAD; the rest is the stream.
func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let control = input.first else { return 0 }
    let stream = Array(input.dropFirst())
    let whole = read(stream, pieceSize: stream.count, head: control & 0x80 != 0)
    let pieces = read(stream, pieceSize: Int(control & 0x3F) + 1, head: control & 0x80 != 0)
    guard whole == pieces else {
        fatalError("the parser read differently in pieces:\n  at once:   \(whole)\n  in pieces: \(pieces)")
    }
    return 0
}

/// The responses read from `stream` fed `pieceSize` bytes at a time, with each response's body joined, and how
/// the stream ended (the error's text, or "closed" after `finish`).
func read(_ stream: [UInt8], pieceSize: Int, head: Bool) -> [String] {
    var parser = HTTPResponseParser()
    parser.expectResponse(bodyAllowed: !head)
    var lines = JSONLineDecoder(maximumLength: 4096)
    var out: [String] = []
    var body: [UInt8] = []
    func take(_ part: HTTPResponseParser.Part) {
        switch part {
        case .head(let status, let reason, let keepAlive):
            out.append("head \(status) \(reason.utf8.count) \(keepAlive)")
        case .body(let piece):
            body += piece.readableBytesView
            lines.append(piece.readableBytesView)
            while let line = try? lines.next(), line != nil {}
        case .end:
            out.append("body \(body.count) \(body.hashValue) end")
            body = []
        }
    }
    do {
        for offset in stride(from: 0, to: stream.count, by: max(pieceSize, 1)) {
            parser.feed(ByteBuffer(bytes: stream[offset..<min(stream.count, offset + max(pieceSize, 1))]))
            var parts = 0
            while parts < 1_000_000, let part = try parser.next() {
                take(part)
                parts += 1
            }
        }
        if let part = try parser.finish() { take(part) }
        out.append("closed")
    } catch {
        out.append("error: \(error)")
    }
    return out
}

runFuzzer(fuzzHTTP)
