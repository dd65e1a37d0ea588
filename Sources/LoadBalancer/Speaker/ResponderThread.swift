import Glibc
import Logging
import NIOCore
import NIOPosix

/// The event loop that answers ARP requests and Neighbor Solicitations: one thread of its own, apart from the
/// speaker's other work (membership, informers, HTTP), raised to a real-time priority (`SCHED_FIFO`) so that a
/// request wakes it at once even when every core is busy — the kernel answers for its own addresses from the
/// receive path and never waits for a thread to be scheduled.
///
/// The thread only ever runs the two packet sockets of each interface, whose kernel filters pass nothing but ARP
/// requests and Neighbor Solicitations received from the wire; under a flood the kernel's real-time throttling
/// (`kernel.sched_rt_runtime_us`, 95 % by default) still leaves time for everything else.
enum ResponderThread {
    /// Starts the thread. With `priority` 0, or when the kernel refuses the priority (no `CAP_SYS_NICE`), it runs
    /// with ordinary scheduling and says so in the log; it never fails.
    /// - Parameter priority: `SCHED_FIFO` priority, 1–99; 0 keeps ordinary scheduling.
    static func start(priority: Int32, logger: Logger) async -> MultiThreadedEventLoopGroup {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        guard priority > 0 else { return group }
        let result = try? await group.next().submit { () -> Int32 in
            var parameters = sched_param(sched_priority: priority)
            return pthread_setschedparam(pthread_self(), Int32(SCHED_FIFO), &parameters)
        }.get()
        if result == 0 {
            logger.info("ARP/NDP responder thread runs at real-time priority", metadata: ["priority": "\(priority)"])
        } else {
            logger.notice(
                "ARP/NDP responder thread keeps ordinary scheduling (real-time priority refused)",
                metadata: [
                    "priority": "\(priority)", "error": "\(String(cString: strerror(result ?? EINVAL)))",
                ])
        }
        return group
    }
}
