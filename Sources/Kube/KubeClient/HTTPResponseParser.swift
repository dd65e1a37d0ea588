import NIOCore

/// Reads HTTP/1.1 responses from the bytes of one connection: a pure value, fed what the socket delivers, that
/// hands out each response as its head, pieces of its body and its end (RFC 9112). It knows the framing an API
/// server uses — `Content-Length`, `Transfer-Encoding: chunked`, a body delimited by the connection's close — and
/// skips interim (1xx) responses.
///
/// Not thread-safe (a value owned by one connection). Malformed input throws `ParseError` naming what is wrong;
/// the connection cannot be used after that. Internal to the client; the `Fuzzing` SPI opens it to the fuzz targets.
@_spi(Fuzzing) public struct HTTPResponseParser {
    /// One piece of a response, in order: a head, any number of body pieces, the end.
    public enum Part: Equatable {
        /// `keepAlive`: whether the connection can carry another request after this response.
        case head(status: Int, reason: String, keepAlive: Bool)
        case body(ByteBuffer)
        case end
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The longest status line, header line, chunk-size line or trailer line accepted; and the most header bytes.
    static let maximumLineBytes = 16 * 1024
    static let maximumHeadBytes = 256 * 1024

    private enum State: Equatable {
        case statusLine
        case headerLine
        /// A body of known length; bytes still to come.
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkEnd
        case trailerLine
        /// A body that lasts until the connection closes.
        case untilClose
        /// The response is complete; `.end` is still to be handed out.
        case ending
    }

    private var input = ByteBuffer()
    /// Bytes at the front of `input` known to hold no line feed.
    private var scanned = 0
    private var state = State.statusLine
    private var headBytes = 0
    private var bodyAllowed = true
    // The head being read.
    private var status = 0
    private var reason = ""
    private var isHTTP10 = false
    private var contentLength: Int? = nil
    private var chunked = false
    private var transferEncoding = false
    private var connectionClose = false
    private var connectionKeepAlive = false

    public init() {}

    /// Whether no byte of a response is buffered or expected: the connection is between responses.
    public var isIdle: Bool { state == .statusLine && input.readableBytes == 0 && headBytes == 0 }

    /// Tells the parser whether the next response may have a body: `false` for the answer to a HEAD request.
    public mutating func expectResponse(bodyAllowed: Bool) {
        self.bodyAllowed = bodyAllowed
    }

    /// Adds bytes received from the connection.
    public mutating func feed(_ bytes: ByteBuffer) {
        guard input.readableBytes > 0 else {
            input = bytes
            return
        }
        // A fresh buffer for what is left plus what came: appending to `input` would keep its consumed front, which
        // the body pieces handed out may share, for as long as a stream lasts.
        var combined = ByteBufferAllocator().buffer(capacity: input.readableBytes + bytes.readableBytes)
        combined.writeImmutableBuffer(input)
        combined.writeImmutableBuffer(bytes)
        input = combined
    }

    /// The next complete part, or `nil` when more bytes are needed.
    /// - Throws: `ParseError` when the bytes are not a well-formed HTTP/1.1 response.
    public mutating func next() throws(ParseError) -> Part? {
        while true {
            switch state {
            case .statusLine:
                guard let line = try readLine() else { return nil }
                try parseStatusLine(line)
                state = .headerLine
            case .headerLine:
                guard let line = try readLine() else { return nil }
                if line.readableBytes > 0 {
                    try parseHeader(line)
                    continue
                }
                if let head = try endOfHead() { return head }
            case .fixed(let remaining):
                guard input.readableBytes > 0 else { return nil }
                let piece = input.readSlice(length: min(remaining, input.readableBytes))!
                state = remaining == piece.readableBytes ? .ending : .fixed(remaining: remaining - piece.readableBytes)
                return .body(piece)
            case .chunkSize:
                guard let line = try readLine() else { return nil }
                let size = try Self.chunkSize(line)
                state = size == 0 ? .trailerLine : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard input.readableBytes > 0 else { return nil }
                let piece = input.readSlice(length: min(remaining, input.readableBytes))!
                state =
                    remaining == piece.readableBytes
                    ? .chunkEnd : .chunkData(remaining: remaining - piece.readableBytes)
                return .body(piece)
            case .chunkEnd:
                guard let line = try readLine() else { return nil }
                guard line.readableBytes == 0 else { throw ParseError("chunk data longer than its size") }
                state = .chunkSize
            case .trailerLine:
                guard let line = try readLine() else { return nil }
                if line.readableBytes == 0 { state = .ending }
            case .untilClose:
                guard input.readableBytes > 0 else { return nil }
                let piece = input.readSlice(length: input.readableBytes)!
                return .body(piece)
            case .ending:
                reset()
                return .end
            }
        }
    }

    /// The connection has closed: completes a body that lasts until the close.
    /// - Returns: `.end` for such a body, `nil` when the connection was between responses.
    /// - Throws: `ParseError` when a response was cut short.
    public mutating func finish() throws(ParseError) -> Part? {
        switch state {
        case .untilClose:
            reset()
            return .end
        case .ending:
            reset()
            return .end
        case .statusLine where input.readableBytes == 0 && headBytes == 0:
            return nil
        default:
            throw ParseError("connection closed in the middle of a response")
        }
    }

    // MARK: Lines

    /// Consumes one CRLF-terminated line and returns it without the CRLF; `nil` when no full line is buffered.
    private mutating func readLine() throws(ParseError) -> ByteBuffer? {
        let from = scanned
        let found: Int? = input.withUnsafeReadableBytes { bytes in
            guard from < bytes.count else { return nil }
            return bytes[from...].firstIndex(of: UInt8(ascii: "\n"))
        }
        guard let newline = found else {
            scanned = input.readableBytes
            if scanned > Self.maximumLineBytes {
                throw ParseError("a line of the response is longer than \(Self.maximumLineBytes) bytes")
            }
            return nil
        }
        scanned = 0
        // The same limit as above, so that a long line fails alike whether it came at once or in pieces.
        if newline > Self.maximumLineBytes {
            throw ParseError("a line of the response is longer than \(Self.maximumLineBytes) bytes")
        }
        guard newline > 0, input.getInteger(at: input.readerIndex + newline - 1, as: UInt8.self) == UInt8(ascii: "\r")
        else { throw ParseError("a line of the response does not end with CRLF") }
        if state == .statusLine || state == .headerLine || state == .trailerLine {
            headBytes += newline + 1
            if headBytes > Self.maximumHeadBytes {
                throw ParseError("the response head is longer than \(Self.maximumHeadBytes) bytes")
            }
        }
        let line = input.readSlice(length: newline - 1)!
        input.moveReaderIndex(forwardBy: 2)
        return line
    }

    // MARK: Head

    private mutating func parseStatusLine(_ line: ByteBuffer) throws(ParseError) {
        let bytes = line.readableBytesView
        // "HTTP/1.x SSS reason"; the reason may be empty, with or without its space.
        guard bytes.count >= 12, bytes.starts(with: "HTTP/1.".utf8) else {
            throw ParseError("not an HTTP/1.x status line: \(Self.printable(line))")
        }
        let start = bytes.startIndex
        let minor = bytes[start + 7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), bytes[start + 8] == UInt8(ascii: " ") else {
            throw ParseError("unsupported HTTP version in status line: \(Self.printable(line))")
        }
        var code = 0
        for byte in bytes[(start + 9)..<(start + 12)] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw ParseError("status code is not three digits: \(Self.printable(line))")
            }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard code >= 100 else { throw ParseError("status code below 100: \(Self.printable(line))") }
        if bytes.count > 12 {
            guard bytes[start + 12] == UInt8(ascii: " ") else {
                throw ParseError("no space after the status code: \(Self.printable(line))")
            }
            reason = String(decoding: bytes[(start + 13)...], as: UTF8.self)
        } else {
            reason = ""
        }
        status = code
        isHTTP10 = minor == UInt8(ascii: "0")
    }

    private mutating func parseHeader(_ line: ByteBuffer) throws(ParseError) {
        let bytes = line.readableBytesView
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > bytes.startIndex else {
            throw ParseError("malformed header line: \(Self.printable(line))")
        }
        let name = bytes[..<colon]
        guard name.allSatisfy(Self.isTokenByte) else {
            throw ParseError("malformed header name: \(Self.printable(line))")
        }
        var value = bytes[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        if Self.equalsIgnoringCase(name, "content-length") {
            // Repeated or listed values must agree (RFC 9110 §8.6).
            for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let digits = Self.trimmed(item)
                guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
                    throw ParseError("invalid Content-Length: \(Self.printable(line))")
                }
                let length = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                if let contentLength, contentLength != length {
                    throw ParseError("conflicting Content-Length values")
                }
                contentLength = length
            }
        } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
            transferEncoding = true
            let codings = value.split(separator: UInt8(ascii: ",")).map(Self.trimmed).filter { !$0.isEmpty }
            // Only `chunked` is understood; the client asks for no content coding.
            guard codings.allSatisfy({ Self.equalsIgnoringCase($0, "chunked") }), codings.count == 1, !chunked else {
                throw ParseError("unsupported Transfer-Encoding: \(Self.printable(line))")
            }
            chunked = true
        } else if Self.equalsIgnoringCase(name, "connection") {
            for option in value.split(separator: UInt8(ascii: ",")).map(Self.trimmed) {
                if Self.equalsIgnoringCase(option, "close") { connectionClose = true }
                if Self.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
            }
        }
    }

    /// Decides the body's framing once the head is read (RFC 9112 §6.3) and returns the head, or `nil` for an
    /// interim response, which is skipped.
    private mutating func endOfHead() throws(ParseError) -> Part? {
        if status < 200 {
            guard status != 101 else { throw ParseError("unexpected 101 Switching Protocols") }
            clearHead()
            state = .statusLine
            return nil
        }
        var keepAlive = !connectionClose && (!isHTTP10 || connectionKeepAlive)
        if !bodyAllowed || status == 204 || status == 304 {
            state = .ending
        } else if transferEncoding {
            // With both, Transfer-Encoding wins and the connection must not be reused (RFC 9112 §6.3).
            if contentLength != nil { keepAlive = false }
            state = .chunkSize
        } else if let contentLength {
            state = contentLength == 0 ? .ending : .fixed(remaining: contentLength)
        } else {
            keepAlive = false
            state = .untilClose
        }
        let head = Part.head(status: status, reason: reason, keepAlive: keepAlive)
        clearHead()
        return head
    }

    private mutating func clearHead() {
        headBytes = 0
        contentLength = nil
        chunked = false
        transferEncoding = false
        connectionClose = false
        connectionKeepAlive = false
    }

    private mutating func reset() {
        clearHead()
        state = .statusLine
        bodyAllowed = true
    }

    // MARK: Helpers

    private static func chunkSize(_ line: ByteBuffer) throws(ParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line.readableBytesView {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                // Chunk extensions (and whitespace before them) are ignored.
                guard digits > 0 else { throw ParseError("invalid chunk size: \(printable(line))") }
                return size
            default:
                throw ParseError("invalid chunk size: \(printable(line))")
            }
            digits += 1
            guard digits <= 15 else { throw ParseError("chunk size too large: \(printable(line))") }
            size = size << 4 | value
        }
        guard digits > 0 else { throw ParseError("empty chunk size line") }
        return size
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func trimmed<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        var value = bytes[...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        return value
    }

    private static func equalsIgnoringCase<C: Collection<UInt8>>(_ bytes: C, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { byte, lower in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == lower : byte == lower
            }
        }
    }

    /// A line for an error message: at most 120 bytes, control bytes replaced.
    private static func printable(_ line: ByteBuffer) -> String {
        let bytes = line.readableBytesView.prefix(120).map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: "?") : $0 }
        return "\"" + String(decoding: bytes, as: UTF8.self) + (line.readableBytes > 120 ? "…\"" : "\"")
    }
}
