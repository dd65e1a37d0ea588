import KubeAPI

/// Random parts of names and identifiers the server generates.
enum NameGenerator {
    /// The alphabet kube-apiserver uses for `generateName` suffixes (no vowels, no look-alike characters).
    private static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// Five random characters appended to `metadata.generateName`.
    static func suffix() -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<5).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }
}

/// Random (version 4) UUIDs for `metadata.uid`.
enum UUIDGenerator {
    static func v4() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { Hex.encode([$0]) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-"
            + hex[8..<10].joined() + "-" + hex[10..<16].joined()
    }
}
