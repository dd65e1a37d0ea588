import Foundation

/// Blocking calls (waiting for a child process, reading a pipe to its end) made from async code without holding
/// one of the cooperative pool's threads, which are as few as the cores and which in-process servers need.
public enum BlockingWork {
    /// Runs `work` on a new thread and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}
