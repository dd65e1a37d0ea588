import Synchronization

/// The events one watch has not taken yet. The store appends; the watch takes everything waiting at once, so a
/// commit of many writes reaches a watcher as one batch (one response chunk, one socket write) rather than one
/// wake-up per event.
///
/// Thread-safe: the store appends from its writer thread while one task iterates. At most `limit` events wait; an
/// append beyond that ends the buffer with `Storage.WatcherTooSlow` and drops what was waiting.
public final class WatchBuffer: AsyncSequence, Sendable {
    public typealias Element = [WatchEvent]

    private enum End {
        case finished
        case failed(any Error)
    }

    private struct State {
        var events: [WatchEvent] = []
        var waiter: CheckedContinuation<[WatchEvent]?, any Error>?
        var end: End?
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Queues `events` (in order) and wakes the waiting iterator. `bounded: false` lets a watch's starting snapshot
    /// exceed the limit.
    /// - Returns: `false` when the buffer has ended, now or before (the watcher is gone or too slow).
    @discardableResult
    func append(contentsOf events: [WatchEvent], bounded: Bool = true) -> Bool {
        guard !events.isEmpty else { return true }
        let (waiter, open) = state.withLock { s -> (CheckedContinuation<[WatchEvent]?, any Error>?, Bool) in
            if s.end != nil { return (nil, false) }
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, true)
            }
            guard !bounded || s.events.count + events.count <= limit else {
                s.events = []
                s.end = .failed(Storage.WatcherTooSlow())
                return (nil, false)
            }
            s.events.append(contentsOf: events)
            return (nil, true)
        }
        waiter?.resume(returning: events)
        return open
    }

    /// Ends the buffer: the iterator returns what is still waiting, then `nil`.
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<[WatchEvent]?, any Error>? in
            guard s.end == nil else { return nil }
            s.end = .finished
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything waiting, oldest first; suspends while nothing is. `nil` once the buffer has ended and is empty.
    /// - Throws: `Storage.WatcherTooSlow` when the watcher fell `limit` events behind.
    func next() async throws -> [WatchEvent]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enum Now {
                    case events([WatchEvent])
                    case end(End)
                    case wait
                }
                let now: Now = state.withLock { s in
                    if !s.events.isEmpty {
                        defer { s.events = [] }
                        return .events(s.events)
                    }
                    if let end = s.end { return .end(end) }
                    s.waiter = continuation
                    return .wait
                }
                switch now {
                case .events(let events): continuation.resume(returning: events)
                case .end(.finished): continuation.resume(returning: nil)
                case .end(.failed(let error)): continuation.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            finish()
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: WatchBuffer
        public mutating func next() async throws -> [WatchEvent]? { try await buffer.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: self) }
}
