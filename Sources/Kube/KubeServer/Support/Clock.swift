import FoundationEssentials

/// Wall-clock time for timestamps written into objects.
enum Clock {
    static func microsecondsSinceEpoch() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }
}
