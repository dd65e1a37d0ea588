import Glibc
import Synchronization
import Telemetry
import Testing

@Suite struct MemoryTrimmerTests {
    /// The policy, with readings given by the test: trim once per growth above the threshold, never while memory
    /// is only reused, and again after reuse lowered the mark and a new burst was freed.
    @Test func trimsOncePerFreedBurst() {
        let readings = Mutex<[Int]>([10, 12, 30, 30, 31, 5, 6, 20])
        let releases = Mutex(0)
        var trimmer = MemoryTrimmer(
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

    /// Busy ticks (more than the quiet share of a core used since the last) leave memory alone; quiet ones trim
    /// the heap when worthwhile and drop the image's pages every time.
    @Test func actsOnlyWhenQuiet() {
        // CPU time read at creation, then at each tick: 0 → 0.5 s (busy), 0.51 s (quiet), 0.52 s (quiet),
        // 1.52 s (busy), 1.53 s (quiet).
        let clock = Mutex<[Duration]>([0, 500, 510, 520, 1520, 1530].map { .milliseconds($0) })
        let readings = Mutex<[Int]>([10, 30, 30, 40])
        let trims = Mutex(0)
        let drops = Mutex(0)
        var trimmer = MemoryTrimmer(
            threshold: 4, quietShare: 0.05,
            measure: { readings.withLock { $0.removeFirst() } },
            release: {
                trims.withLock { $0 += 1 }
                return true
            },
            cpuTime: { clock.withLock { $0.removeFirst() } },
            releaseImage: { drops.withLock { $0 += 1 } })
        let quiet = (0..<5).map { _ in trimmer.tick(elapsed: .seconds(1)) }
        #expect(quiet == [false, true, true, false, true])
        // Free 10 at creation; quiet ticks read 30 (a burst freed: trim), 30 (nothing new), 40 (trim).
        #expect(trims.withLock { $0 } == 2)
        #expect(drops.withLock { $0 } == 3)
        #expect(readings.withLock { $0.isEmpty })
    }

    /// The process's CPU time grows with work done.
    @Test func processCPUTimeGrows() {
        let before = MemoryTrimmer.processCPUTime
        var x: UInt64 = 1
        let deadline = ContinuousClock.now + .seconds(5)
        while MemoryTrimmer.processCPUTime - before < .milliseconds(20), ContinuousClock.now < deadline {
            for i in 0..<100_000 { x = x &* 6_364_136_223_846_793_005 &+ UInt64(i) }
        }
        #expect(MemoryTrimmer.processCPUTime - before >= .milliseconds(20), "\(x)")
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
        let before = MemoryTrimmer.freeBytes
        for block in blocks.enumerated() where block.offset % 2 == 0 { block.element.deallocate() }
        #expect(MemoryTrimmer.freeBytes >= before + (8 << 20), "the freed blocks stay in the heap")
        #expect(MemoryTrimmer.releaseFreePages(), "their pages were given back")
    }

    /// The executable's and libraries' pages leave the resident set (`RssFile` falls), and the process goes on
    /// running code and reading data from them:
    /// relocated read-only data (protocol witness tables, class metadata) and a writable global keep their values.
    @Test func releasesImagePages() throws {
        MemoryTrimmerTests.counter += 1
        let before = try #require(MemoryTrimmerTests.status("RssFile"))
        let released = try #require(MemoryTrimmer.releaseImagePages(), "/proc/self/maps and pagemap are readable")
        let after = try #require(MemoryTrimmerTests.status("RssFile"))
        #expect(released > 1 << 20, "the test executable alone has megabytes of code")
        #expect(after < before, "file pages left the resident set: \(before) kB → \(after) kB")
        let values: [any CustomStringConvertible] = [42, "pylon", 2.5, [1, 2]]
        #expect(values.map(\.description) == ["42", "pylon", "2.5", "[1, 2]"])
        #expect(MemoryTrimmerTests.counter >= 1)
    }

    nonisolated(unsafe) static var counter = 0

    /// A `/proc/self/status` field in kB.
    static func status(_ field: String) -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix(field + ":") {
                return Int(text.dropFirst(field.count + 1).filter { $0.isNumber })
            }
        }
        return nil
    }
}
