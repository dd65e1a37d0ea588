/// Splits a byte stream of newline-delimited JSON documents (a watch response) into documents, whatever the
/// chunking: a document may arrive in many chunks and a chunk may carry many documents.
///
/// A value type with no I/O; feed chunks with `append`, take complete documents with `next`.
public struct JSONLineDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// Where the search for the next newline resumes (bytes before it hold none).
    private var scanned = 0
    /// The longest document accepted; a longer one is an error rather than unbounded memory.
    public let maximumLength: Int

    public init(maximumLength: Int = 64 * 1024 * 1024) {
        self.maximumLength = maximumLength
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete document, or `nil` when more bytes are needed.
    /// - Throws: `JSONError` for a line that is not JSON or a document longer than `maximumLength`.
    public mutating func next() throws(JSONError) -> JSON? {
        while true {
            guard let newline = buffer[max(start, scanned)...].firstIndex(of: 0x0A) else {
                scanned = buffer.count
                if buffer.count - start > maximumLength {
                    throw JSONError(
                        offset: buffer.count - start, reason: "watch event longer than \(maximumLength) bytes")
                }
                compact()
                return nil
            }
            let line = buffer[start..<newline]
            start = newline + 1
            scanned = start
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            return try JSONParser.parse(line)
        }
    }

    /// Bytes received after the last complete document.
    public var pendingCount: Int { buffer.count - start }

    private mutating func compact() {
        if start > 0 {
            buffer.removeFirst(start)
            scanned -= start
            start = 0
        }
    }
}
