import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import Speaker

/// The ARP/NDP responder's event loop thread: ordinary scheduling with priority 0, SCHED_FIFO at the asked
/// priority when allowed (root has CAP_SYS_NICE; CI runs as root).
@Suite struct ResponderThreadTests {
    /// The scheduling policy and priority of the loop's thread, read on that thread.
    static func scheduling(of group: MultiThreadedEventLoopGroup) async throws -> (policy: Int32, priority: Int32) {
        try await group.next().submit {
            var policy: Int32 = -1
            var parameters = sched_param()
            pthread_getschedparam(pthread_self(), &policy, &parameters)
            return (policy, parameters.sched_priority)
        }.get()
    }

    @Test func priorityZeroKeepsOrdinaryScheduling() async throws {
        let group = await ResponderThread.start(priority: 0, logger: Logger(label: "test"))
        let scheduling = try await Self.scheduling(of: group)
        #expect(scheduling.policy == Int32(SCHED_OTHER))
        #expect(scheduling.priority == 0)
        try await group.shutdownGracefully()
    }

    @Test(.enabled(if: getuid() == 0, "needs CAP_SYS_NICE"))
    func aPriorityMakesTheThreadRealTime() async throws {
        let group = await ResponderThread.start(priority: 7, logger: Logger(label: "test"))
        let scheduling = try await Self.scheduling(of: group)
        #expect(scheduling.policy == Int32(SCHED_FIFO))
        #expect(scheduling.priority == 7)
        try await group.shutdownGracefully()
    }
}
