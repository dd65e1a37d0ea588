import Synchronization
import Telemetry
import Testing

@Suite struct HeapTrimmerTests {
    /// The policy, with readings given by the test: trim once per growth above the threshold, never while memory
    /// is only reused, and again after reuse lowered the mark and a new burst was freed.
    @Test func trimsOncePerFreedBurst() {
        let readings = Mutex<[Int]>([10, 12, 30, 30, 31, 5, 6, 20])
        let releases = Mutex(0)
        var trimmer = HeapTrimmer(
            threshold: 4,
            measure: { readings.withLock { $0.removeFirst() } },
            release: {
                releases.withLock { $0 += 1 }
                return true
            })
        // Mark 10: 12 is within the threshold, 30 is a burst, 30 and 31 are not new, 5 lowers the mark, 6 is
        // within it, 20 is a new burst.
        let trimmed = (0..<7).map { _ in trimmer.trimIfWorthwhile() }
        #expect(trimmed == [false, true, false, false, false, false, true])
        #expect(releases.withLock { $0 } == 2)
    }

    /// The real heap: 16 MB freed in 64 KB blocks that alternate with blocks of the same size that stay (glibc gives
    /// back only the top of a heap by itself, and same-sized neighbours cannot come from holes elsewhere), is
    /// counted as free and its pages are given back.
    @Test func releasesMemoryFreedInsideTheHeap() {
        let blocks = (0..<512).map { _ in
            let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 10, alignment: 16)
            block.initializeMemory(as: UInt8.self, repeating: 1, count: 64 << 10)
            return block
        }
        defer { for block in blocks.enumerated() where block.offset % 2 == 1 { block.element.deallocate() } }
        let before = HeapTrimmer.freeBytes
        for block in blocks.enumerated() where block.offset % 2 == 0 { block.element.deallocate() }
        #expect(HeapTrimmer.freeBytes >= before + (8 << 20), "the freed blocks stay in the heap")
        #expect(HeapTrimmer.releaseFreePages(), "their pages were given back")
    }
}
