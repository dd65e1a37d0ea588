import Testing

@testable import KubeClient

@Suite struct TextArenaTests {
    private func string(_ text: TextArena.Text) -> String {
        text.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    @Test func storedTextsReadBackAcrossChunks() {
        var arena = TextArena()
        // 2,000 texts of 100 bytes fill several 64 KB chunks.
        let texts = (0..<2000).map { i in arena.store(Array(String(repeating: "\(i % 10)", count: 100).utf8)) }
        for (i, text) in texts.enumerated() {
            #expect(text.count == 100)
            #expect(string(text) == String(repeating: "\(i % 10)", count: 100))
        }
        #expect(arena.liveBytes == 200_000)
    }

    @Test func longTextGetsAChunkOfItsOwnAndTheCurrentOneStaysOpen() {
        var arena = TextArena()
        let before = arena.store(Array("before".utf8))
        let long = arena.store([UInt8](repeating: 0x41, count: 3 * TextArena.chunkSize))
        let after = arena.store(Array("after".utf8))
        #expect(string(before) == "before")
        #expect(long.count == Int32(3 * TextArena.chunkSize))
        #expect(long.withBytes { $0.allSatisfy { $0 == 0x41 } })
        #expect(string(after) == "after")
    }

    @Test func compactionIsWantedOnceHalfTheLiveSizeAndAtLeastAChunkIsReleased() {
        // Released bytes until the arena wants compaction, replacing a 1,000-byte text over and over (garbage
        // accumulates, the live size stays put) next to `live` bytes that stay.
        func releasedUntilCompaction(live: Int) -> (arena: TextArena, kept: TextArena.Text, released: Int) {
            var arena = TextArena()
            let kept = arena.store([UInt8](repeating: 1, count: 1000))
            for _ in 0..<(live / 1000 - 1) { _ = arena.store([UInt8](repeating: 3, count: 1000)) }
            var released = 0
            while !arena.wantsCompaction, released < 4 << 20 {
                let text = arena.store([UInt8](repeating: 2, count: 1000))
                arena.release(text)
                released += 1000
            }
            return (arena, kept, released)
        }
        let small = releasedUntilCompaction(live: 1000)
        #expect(small.arena.wantsCompaction)
        #expect(small.released > TextArena.chunkSize, "not before a chunk is released")
        #expect(small.released <= TextArena.chunkSize + 1000)
        let large = releasedUntilCompaction(live: 1_000_000)
        #expect(large.arena.wantsCompaction)
        #expect(large.released > 500_000, "not before half the live size is released")
        #expect(large.released <= 501_000)
        let kept = small.kept

        // The owner copies what is live into a fresh arena; texts held elsewhere stay readable.
        var fresh = TextArena()
        let moved = fresh.store(kept)
        #expect(!fresh.wantsCompaction)
        #expect(fresh.liveBytes == 1000)
        #expect(moved.withBytes { $0.allSatisfy { $0 == 1 } })
        #expect(kept.withBytes { $0.allSatisfy { $0 == 1 } })
    }

    @Test func textsStayReadableAfterTheArenaIsGone() {
        var text: TextArena.Text?
        do {
            var arena = TextArena()
            text = arena.store(Array("outlives its arena".utf8))
        }
        #expect(text.map(string) == "outlives its arena")
    }
}
