/// Reads big-endian fields from a byte slice, for the packet and message codecs; every read past the end throws the
/// reader's `truncated` error (each codec names its own).
public struct ByteReader<Failure: Error> {
    public private(set) var bytes: ArraySlice<UInt8>
    private let truncated: Failure

    public init(_ bytes: ArraySlice<UInt8>, truncated: Failure) {
        self.bytes = bytes
        self.truncated = truncated
    }

    public var remaining: Int { bytes.count }

    public mutating func take(_ n: Int) throws(Failure) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count >= n else { throw truncated }
        let part = bytes.prefix(n)
        bytes = bytes.dropFirst(n)
        return part
    }

    public mutating func u8() throws(Failure) -> UInt8 { try take(1).first! }

    public mutating func u16() throws(Failure) -> UInt16 {
        let b = try take(2)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    public mutating func u32() throws(Failure) -> UInt32 {
        let b = try take(4)
        return b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

extension Array where Element == UInt8 {
    /// Appends `v` big-endian.
    public mutating func append16(_ v: UInt16) { append(contentsOf: [UInt8(v >> 8), UInt8(v & 0xFF)]) }

    /// Appends `v` big-endian.
    public mutating func append32(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
