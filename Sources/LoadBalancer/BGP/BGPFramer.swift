/// Cuts a TCP byte stream into BGP messages. A header is checked as soon as its 19 bytes are in, so a bad marker
/// or length is reported at once instead of waiting for a body that may never come; at most one message
/// (4096 bytes) plus what has arrived is buffered.
///
/// Pure value type.
public struct BGPFramer: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message (header included), or nil until more bytes arrive.
    /// - Throws: the NOTIFICATION for a bad header; the stream cannot be read further after that.
    public mutating func next() throws(BGPNotification) -> ArraySlice<UInt8>? {
        guard buffer.count - start >= BGPMessage.headerLength else { return compact() }
        let length = try BGPMessage.checkHeader(buffer[start..<start + BGPMessage.headerLength])
        guard buffer.count - start >= length else { return compact() }
        let message = buffer[start..<start + length]
        start += length
        return message
    }

    /// Drops consumed bytes once they are the larger part of the buffer; returns nil for `next`.
    private mutating func compact() -> ArraySlice<UInt8>? {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        return nil
    }
}
