import CLinuxNet
import Metrics
import ServiceLifecycle

/// Gives memory that the heap holds free back to the operating system.
///
/// glibc keeps what a program frees inside its arenas, so a daemon that once handled a burst (a list of 10,000
/// Services, a backlog of writes) would keep that peak resident for the rest of its life. Every `interval` the
/// trimmer reads how much the heap holds free; when that grew by more than `threshold` since the last trim it
/// releases the free pages (`malloc_trim`). Reused memory lowers the mark, so a steady daemon never trims.
///
/// A `Service`: runs until graceful shutdown or cancellation and never fails. Counts its releases in
/// `pylon_heap_trims_total`. A value type; `run()` works on its own copy.
public struct HeapTrimmer: Service {
    public let interval: Duration
    public let threshold: Int
    private let measure: @Sendable () -> Int
    private let release: @Sendable () -> Bool
    private var mark: Int

    /// - Parameters:
    ///   - interval: how often the free amount is read.
    ///   - threshold: growth of the free amount (bytes) that is worth a trim.
    ///   - measure: the heap's free bytes (tests pass their own readings).
    ///   - release: gives free pages back, returning whether any were (tests pass their own).
    public init(
        interval: Duration = .seconds(1), threshold: Int = 4 << 20,
        measure: @escaping @Sendable () -> Int = { HeapTrimmer.freeBytes },
        release: @escaping @Sendable () -> Bool = HeapTrimmer.releaseFreePages
    ) {
        self.interval = interval
        self.threshold = threshold
        self.measure = measure
        self.release = release
        self.mark = measure()
    }

    /// Bytes the heap holds free now (all arenas).
    public static var freeBytes: Int { Int(pylon_heap_free_bytes()) }

    /// Gives every whole free page of the heap back to the system. Returns whether memory was released.
    @Sendable public static func releaseFreePages() -> Bool { pylon_heap_trim() == 1 }

    /// Caps the heap at `count` arenas. glibc gives threads that contend for the heap arenas of their own (up to
    /// eight per core), and memory freed in one arena serves only allocations made in it; a daemon with a handful
    /// of busy threads then holds several partly used heaps. Call first thing, before threads start.
    /// - Returns: whether glibc accepted the setting.
    @discardableResult
    public static func limitArenas(_ count: Int) -> Bool { pylon_heap_limit_arenas(Int32(count)) == 1 }

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
            while !Task.isCancelled {
                do { try await Task.sleep(for: trimmer.interval) } catch { return }
                trimmer.trimIfWorthwhile()
            }
        }
    }
}
