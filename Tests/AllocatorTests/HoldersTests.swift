import Testing

@testable import Allocator

@Suite struct HoldersTests {
    @Test func oneHolderThenSharedThenOneAgain() {
        var holders = Holders("default/a")
        #expect(holders.sorted == ["default/a"])
        holders.insert("default/a")
        #expect(holders.sorted == ["default/a"], "inserting a holder twice keeps one")
        holders.insert("default/c")
        holders.insert("default/b")
        #expect(holders.sorted == ["default/a", "default/b", "default/c"])
        #expect(holders.contains { $0 == "default/b" })
        var remain = holders.remove("default/a")
        #expect(remain)
        remain = holders.remove("default/x")
        #expect(remain, "removing a stranger changes nothing")
        #expect(holders.sorted == ["default/b", "default/c"])
        remain = holders.remove("default/c")
        #expect(remain)
        #expect(holders.sorted == ["default/b"])
        remain = holders.remove("default/x")
        #expect(remain)
        remain = holders.remove("default/b")
        #expect(!remain, "the last holder leaves none")
    }
}
