/// Reads big-endian fields from a byte slice; every read past the end throws `DropReason.truncated`.
struct ByteReader {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count }

    mutating func take(_ n: Int) throws(DropReason) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count >= n else { throw .truncated }
        let part = bytes.prefix(n)
        bytes = bytes.dropFirst(n)
        return part
    }

    mutating func u8() throws(DropReason) -> UInt8 { try take(1).first! }

    mutating func u16() throws(DropReason) -> UInt16 {
        let b = try take(2)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    mutating func u32() throws(DropReason) -> UInt32 {
        let b = try take(4)
        return b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

extension Array where Element == UInt8 {
    mutating func append16(_ v: UInt16) { append(contentsOf: [UInt8(v >> 8), UInt8(v & 0xFF)]) }
    mutating func append32(_ v: UInt32) {
        append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)])
    }
}
