#if canImport(Glibc)
    import Glibc
#endif

/// Blocking calls (waiting for a child process, reading a pipe to its end) made from async code without holding
/// one of the cooperative pool's threads, which are as few as the cores and which in-process servers need.
public enum BlockingWork {
    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Runs `work` on a new (detached) thread and returns its result. If no thread can be created, `work` runs on
    /// the caller's thread.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            detach { continuation.resume(returning: work()) }
        }
    }

    /// Starts `work` on a new (detached) thread and returns at once. If no thread can be created, `work` runs on
    /// the caller's thread before this returns.
    public static func detach(_ work: @escaping @Sendable () -> Void) {
        let job = Unmanaged.passRetained(Job(work))
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, job.toOpaque())
        if started == 0 {
            pthread_detach(thread)
        } else {
            job.takeRetainedValue().body()
        }
    }
}
