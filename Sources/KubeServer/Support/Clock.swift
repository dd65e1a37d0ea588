#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time for timestamps written into objects.
enum Clock {
    static func microsecondsSinceEpoch() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
