/// Every virtual LAN with a management link gives the machine the same address (198.18.0.1), so tests that build
/// one (`LoadBalancerLAN`, `pylon lab`) take turns, whichever suite they are in.
///
/// Isolation: an actor; waiting does not block a thread.
public actor ManagementSegment {
    public static let shared = ManagementSegment()

    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` once no other holder uses the segment; releases it also when `body` throws.
    public static func exclusively<T>(_ body: () async throws -> T) async throws -> T {
        await shared.acquire()
        do {
            let result = try await body()
            await shared.release()
            return result
        } catch {
            await shared.release()
            throw error
        }
    }

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
