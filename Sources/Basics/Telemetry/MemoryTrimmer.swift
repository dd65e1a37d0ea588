import CLinuxNet
import Glibc
import Metrics
import ServiceLifecycle

/// Gives memory a daemon no longer uses back to the operating system once it is quiet: heap freed after a burst,
/// and the pages of its executable and libraries that it has not run lately.
///
/// glibc keeps what a program frees inside its arenas, so a daemon that once handled a burst (a list of 10,000
/// Services, a backlog of writes) would keep that peak resident for the rest of its life. The code a daemon ran
/// once (start-up, argument parsing, TLS set-up, the burst) stays mapped too, and the kernel maps code 64 KB around
/// each page a program touches.
///
/// Every `interval` the trimmer reads the process's CPU time. While the daemon is busy (it used more than
/// `quietShare` of one core since the last tick) it does nothing: memory freed now is about to be reused, and code
/// dropped now would be mapped again at once. On a quiet tick it releases the heap's free pages (`malloc_trim`)
/// when the free amount grew by more than `threshold` since the last trim — reused memory lowers the mark, so a
/// steady daemon never trims — and drops the process's mappings of its executable's and libraries' own pages
/// (`releaseImagePages`), so the resident code is what the daemon ran since the last quiet tick. Dropped pages stay
/// in the page cache; running them again costs a minor fault.
///
/// A `Service`: runs until graceful shutdown or cancellation and never fails. Counts heap releases in
/// `pylon_heap_trims_total`. A value type; `run()` works on its own copy.
public struct MemoryTrimmer: Service {
    public let interval: Duration
    public let threshold: Int
    public let quietShare: Double
    private let measure: @Sendable () -> Int
    private let release: @Sendable () -> Bool
    private let cpuTime: @Sendable () -> Duration
    private let releaseImage: @Sendable () -> Void
    private var mark: Int
    private var lastCPUTime: Duration

    /// - Parameters:
    ///   - interval: how often the trimmer looks.
    ///   - threshold: growth of the heap's free amount (bytes) that is worth a trim.
    ///   - quietShare: the share of one core below which the daemon counts as quiet.
    ///   - measure: the heap's free bytes (tests pass their own readings).
    ///   - release: gives free pages back, returning whether any were (tests pass their own).
    ///   - cpuTime: the CPU time the process used so far (tests pass their own).
    ///   - releaseImage: drops the mappings of the executable's and libraries' pages (tests pass their own).
    public init(
        interval: Duration = .seconds(1), threshold: Int = 1 << 20, quietShare: Double = 0.05,
        measure: @escaping @Sendable () -> Int = { MemoryTrimmer.freeBytes },
        release: @escaping @Sendable () -> Bool = MemoryTrimmer.releaseFreePages,
        cpuTime: @escaping @Sendable () -> Duration = { MemoryTrimmer.processCPUTime },
        releaseImage: @escaping @Sendable () -> Void = { MemoryTrimmer.releaseImagePages() }
    ) {
        self.interval = interval
        self.threshold = threshold
        self.quietShare = quietShare
        self.measure = measure
        self.release = release
        self.cpuTime = cpuTime
        self.releaseImage = releaseImage
        self.mark = measure()
        self.lastCPUTime = cpuTime()
    }

    /// Bytes the heap holds free now (all arenas).
    public static var freeBytes: Int { Int(pylon_heap_free_bytes()) }

    /// CPU time used by all threads of this process so far.
    public static var processCPUTime: Duration {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }

    /// Gives every whole free page of the heap back to the system. Returns whether memory was released.
    @Sendable public static func releaseFreePages() -> Bool { pylon_heap_trim() == 1 }

    /// Drops this process's mappings of the unmodified pages of its executable and shared libraries: all code,
    /// and read-only data not copied by a relocation. Writable mappings are left alone.
    /// - Returns: the bytes of address space dropped, or nil when `/proc/self/maps` or `pagemap` cannot be read.
    @discardableResult
    public static func releaseImagePages() -> Int? {
        let released = pylon_release_image_pages()
        return released < 0 ? nil : released
    }

    /// Caps the heap at `count` arenas. glibc gives threads that contend for the heap arenas of their own (up to
    /// eight per core), and memory freed in one arena serves only allocations made in it; a daemon with a handful
    /// of busy threads then holds several partly used heaps. Call first thing, before threads start.
    /// - Returns: whether glibc accepted the setting.
    @discardableResult
    public static func limitArenas(_ count: Int) -> Bool { pylon_heap_limit_arenas(Int32(count)) == 1 }

    /// One look, `elapsed` after the last: when the daemon was quiet, trims the heap if worthwhile and drops the
    /// image's pages.
    /// - Returns: whether the daemon was quiet.
    @discardableResult
    public mutating func tick(elapsed: Duration) -> Bool {
        let now = cpuTime()
        defer { lastCPUTime = now }
        guard now - lastCPUTime <= elapsed * quietShare else { return false }
        trimIfWorthwhile()
        releaseImage()
        return true
    }

    /// Trims when the free amount grew by more than `threshold` since the last trim, and lowers the mark when
    /// memory was reused.
    /// - Returns: whether pages were given back.
    @discardableResult
    public mutating func trimIfWorthwhile() -> Bool {
        let free = measure()
        guard free > mark + threshold else {
            mark = min(mark, free)
            return false
        }
        mark = free
        let released = release()
        if released { Counter(label: "pylon_heap_trims_total").increment() }
        return released
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var trimmer = self
            var last = ContinuousClock.now
            while !Task.isCancelled {
                do { try await Task.sleep(for: trimmer.interval) } catch { return }
                let now = ContinuousClock.now
                trimmer.tick(elapsed: now - last)
                last = now
            }
        }
    }
}
