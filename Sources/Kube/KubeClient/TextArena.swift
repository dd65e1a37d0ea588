/// Serialized objects packed side by side in 64 KB chunks, for caches that keep thousands of them for a long time.
///
/// Stored one by one, each object's text is a small heap block of its own; a burst of updates then scatters the
/// survivors among freed blocks, and every page that still holds one stays resident (the controller's heap after
/// assigning 10,000 Services was a third free space that could not be given back). Packed, long-lived texts share
/// few pages, and `wantsCompaction` tells the owner when to copy the live ones into a fresh arena so that
/// chunks holding mostly replaced texts are freed.
///
/// A value type without locking: its owner serializes access (the informer's lock). A stored `Text` stays
/// readable from any thread for as long as it is held, also after it is released or the arena is compacted:
/// it keeps its chunk alive, and the bytes it covers are never written again.
struct TextArena: Sendable {
    /// Size of a chunk. A text longer than a quarter of it that does not fit the current chunk gets one of its own.
    static let chunkSize = 64 * 1024

    /// One stored text.
    struct Text: Sendable {
        fileprivate let chunk: Chunk
        fileprivate let offset: Int32
        /// Length in bytes.
        let count: Int32

        /// Calls `body` with the text's bytes (valid only during the call).
        func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            try body(UnsafeBufferPointer(rebasing: chunk.memory[Int(offset)..<Int(offset + count)]))
        }
    }

    /// Memory written once, front to back: bytes below `used` are never written again, so readers outside the
    /// owner's lock never race with the writer.
    fileprivate final class Chunk: @unchecked Sendable {
        let memory: UnsafeMutableBufferPointer<UInt8>
        var used = 0

        init(capacity: Int) { memory = .allocate(capacity: capacity) }
        deinit { memory.deallocate() }
    }

    private var current: Chunk?
    /// Bytes of texts stored and not released.
    private(set) var liveBytes = 0
    /// Bytes of texts released since this arena was created.
    private(set) var releasedBytes = 0

    init() {}

    /// Copies `bytes` into the arena.
    mutating func store<Bytes: Collection>(_ bytes: Bytes) -> Text where Bytes.Element == UInt8 {
        let count = bytes.count
        precondition(count < Int(Int32.max), "text too long for an arena")
        let chunk: Chunk
        if let current, current.memory.count - current.used >= count {
            chunk = current
        } else if count > Self.chunkSize / 4 {
            chunk = Chunk(capacity: count)  // a long text: its own chunk, the current one stays open
        } else {
            chunk = Chunk(capacity: Self.chunkSize)
            current = chunk
        }
        let offset = chunk.used
        _ = UnsafeMutableBufferPointer(rebasing: chunk.memory[offset..<offset + count]).initialize(from: bytes)
        chunk.used += count
        liveBytes += count
        return Text(chunk: chunk, offset: Int32(offset), count: Int32(count))
    }

    /// Copies a text (of this or another arena) into this one.
    mutating func store(_ text: Text) -> Text {
        text.withBytes { store($0) }
    }

    /// Records that the owner dropped `text`; its bytes become garbage.
    mutating func release(_ text: Text) {
        liveBytes -= Int(text.count)
        releasedBytes += Int(text.count)
    }

    /// Whether more has been released than half of what is live (and at least a chunk): the owner should copy
    /// every live text into a new arena. Garbage then stays under half the live size (plus a chunk), and copying
    /// costs at most two bytes per byte released since the last time.
    var wantsCompaction: Bool { releasedBytes > max(liveBytes / 2, Self.chunkSize) }
}
