/// Seeded mutations of valid encoded input for the decoder fuzz tests: each call changes one to four things —
/// overwrites a byte, cuts the tail, appends random bytes, or flips a bit.
public enum ByteMutator {
    public static func mutate(_ input: [UInt8], _ g: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            switch Int.random(in: 0..<4, using: &g) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
            case 1 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 1...bytes.count, using: &g))
            case 2: bytes += (0..<Int.random(in: 1...16, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            default:
                if !bytes.isEmpty {
                    let i = Int.random(in: 0..<bytes.count, using: &g)
                    bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &g)
                }
            }
        }
        return bytes
    }
}
