import Crypto
import Testing

@testable import Membership

/// SWIM among simulated speakers on a virtual clock: every packet is sealed, opened and replay-checked as on
/// the wire; the network can crash members, drop traffic and partition.
struct SimulatedLAN {
    static let key = SymmetricKey(data: Array(repeating: UInt8(3), count: 32))
    static let latency: Duration = .milliseconds(1)
    static let step: Duration = .milliseconds(5)

    var members: [String: SWIM] = [:]
    var guards: [String: ReplayGuard] = [:]
    var nonces: [String: UInt64] = [:]
    var crashed: Set<String> = []
    /// When set, packets only flow inside one group.
    var groups: [Set<String>]? = nil
    var inFlight: [(at: ContinuousClock.Instant, from: String, to: String, packet: [UInt8])] = []
    var now = ContinuousClock.now
    var sent: [String: Int] = [:]
    /// observer → member → state, as the observer's actions reported it.
    var views: [String: [String: MemberUpdate.State]] = [:]

    static func address(_ name: String) -> String { name + ":7946" }

    init(count: Int) {
        let names = (0..<count).map { "node-\($0)" }
        for name in names {
            members[name] = SWIM(name: name, address: Self.address(name), incarnation: 1)
            guards[name] = ReplayGuard()
        }
        for name in names {
            let actions = members[name]!.join(seeds: [Self.address("node-0")], now: now)
            perform(actions, by: name)
        }
    }

    /// Whether a packet sent by `a` reaches `b` (a crashed sender sends nothing; see `perform`).
    func reachable(_ a: String, _ b: String) -> Bool {
        guard !crashed.contains(b) else { return false }
        guard let groups else { return true }
        return groups.contains { $0.contains(a) && $0.contains(b) }
    }

    mutating func perform(_ actions: [SWIM.Action], by name: String) {
        for action in actions {
            switch action {
            case .send(let message, let address):
                guard !crashed.contains(name) else { continue }
                let to = String(address.dropLast(":7946".count))
                nonces[name, default: 0] += 1
                sent[name, default: 0] += 1
                let packet = PacketCodec.seal(message, sender: name, nonce: nonces[name]!, key: Self.key)
                inFlight.append((now + Self.latency, name, to, packet))
            case .changed(let member, let state):
                views[name, default: [:]][member] = state
            }
        }
    }

    /// Advances the clock by `duration`, delivering packets and firing timers every 5 ms.
    mutating func run(for duration: Duration, until done: ((SimulatedLAN) -> Bool)? = nil) {
        let end = now + duration
        while now < end {
            now = now + Self.step
            let due = inFlight.filter { $0.at <= now }
            inFlight.removeAll { $0.at <= now }
            for packet in due where reachable(packet.from, packet.to) {
                guard let opened = try? PacketCodec.open(packet.packet, key: Self.key),
                    guards[packet.to]!.accept(opened.nonce, from: opened.sender)
                else { continue }
                let actions = members[packet.to]!.receive(
                    opened.message, sender: opened.sender, from: Self.address(opened.sender), now: now)
                perform(actions, by: packet.to)
            }
            for name in members.keys.sorted() where !crashed.contains(name) {
                perform(members[name]!.tick(now: now), by: name)
            }
            if let done, done(self) { return }
        }
    }

    /// Members every running member considers live.
    func agreed() -> Set<String>? {
        let views = members.filter { !crashed.contains($0.key) }.map(\.value.live)
        return Set(views).count == 1 ? views.first : nil
    }
}

@Suite struct SWIMTests {
    @Test func membersFindEachOtherThroughOneSeed() {
        var lan = SimulatedLAN(count: 3)
        lan.run(for: .seconds(2)) { $0.agreed()?.count == 3 }
        #expect(lan.agreed() == ["node-0", "node-1", "node-2"])
    }

    @Test func aCrashedMemberIsDeclaredDeadWithin500msAmong50() {
        var lan = SimulatedLAN(count: 50)
        lan.run(for: .seconds(10)) { $0.agreed()?.count == 50 }
        #expect(lan.agreed()?.count == 50, "all 50 converge")
        lan.run(for: .seconds(1))
        // Traffic per member in steady state: bounded.
        let before = lan.sent
        lan.run(for: .seconds(2))
        let perSecond = lan.members.keys.map { Double(lan.sent[$0, default: 0] - before[$0, default: 0]) / 2 }
        #expect(perSecond.max()! <= 50, "at most 50 packets/s from any member: \(perSecond.max()!)")

        lan.crashed = ["node-7"]
        let crash = lan.now
        lan.run(for: .seconds(1)) { lan in lan.agreed().map { !$0.contains("node-7") } ?? false }
        let detection = crash.duration(to: lan.now)
        #expect(lan.agreed()?.count == 49)
        #expect(detection <= .milliseconds(500), "every member declared node-7 dead after \(detection)")
        #expect(lan.views["node-3"]?["node-7"] == .dead)
    }

    @Test func aLeavingMemberIsGoneAtOnce() {
        var lan = SimulatedLAN(count: 5)
        lan.run(for: .seconds(3)) { $0.agreed()?.count == 5 }
        #expect(
            lan.members["node-2"]!.leave(alsoTo: [SimulatedLAN.address("node-9"), SimulatedLAN.address("node-0")]).count
                == 5, "every live member and the extra address, each once")
        let actions = lan.members["node-2"]!.leave()
        #expect(actions.count == 4)
        lan.perform(actions, by: "node-2")
        lan.crashed = ["node-2"]
        lan.run(for: .milliseconds(10))
        #expect(lan.agreed() == ["node-0", "node-1", "node-3", "node-4"])
        #expect(lan.views["node-0"]?["node-2"] == .left)
    }

    @Test func aBriefLossIsRefutedNotFatal() {
        var lan = SimulatedLAN(count: 4)
        lan.run(for: .seconds(3)) { $0.agreed()?.count == 4 }
        lan.crashed = ["node-3"]
        lan.run(for: .milliseconds(120))
        lan.crashed = []
        lan.run(for: .seconds(2))
        #expect(lan.agreed()?.count == 4, "node-3 is back: \(String(describing: lan.agreed()))")
        #expect(lan.members["node-3"]!.incarnation >= 1)
    }

    /// A restarted member learns the others by contact (without their incarnations); cut off later, it declares them
    /// dead under incarnations older than theirs. Healing must still converge (the others answer stale claims).
    @Test func aRestartedMemberThatWasCutOffRejoins() {
        var lan = SimulatedLAN(count: 3)
        lan.run(for: .seconds(3)) { $0.agreed()?.count == 3 }
        lan.crashed = ["node-2"]
        lan.run(for: .seconds(1)) { $0.agreed() == ["node-0", "node-1"] }
        lan.members["node-2"] = SWIM(name: "node-2", address: SimulatedLAN.address("node-2"), incarnation: 100)
        lan.crashed = []
        lan.perform(lan.members["node-2"]!.join(seeds: [SimulatedLAN.address("node-0")], now: lan.now), by: "node-2")
        lan.run(for: .seconds(5)) { $0.agreed()?.count == 3 }
        #expect(lan.agreed()?.count == 3)
        lan.run(for: .seconds(5))  // all gossip spent
        lan.groups = [["node-0", "node-1"], ["node-2"]]
        lan.run(for: .seconds(1))
        #expect(lan.members["node-2"]!.live == ["node-2"])
        lan.groups = nil
        lan.run(for: .seconds(10)) { $0.agreed()?.count == 3 }
        #expect(lan.agreed()?.count == 3, "views: \(lan.members.mapValues(\.live))")
    }

    @Test func aHealedPartitionConvergesToOneView() {
        var lan = SimulatedLAN(count: 4)
        lan.run(for: .seconds(3)) { $0.agreed()?.count == 4 }
        lan.groups = [["node-0", "node-1"], ["node-2", "node-3"]]
        lan.run(for: .seconds(2))
        #expect(lan.members["node-0"]!.live == ["node-0", "node-1"])
        #expect(lan.members["node-3"]!.live == ["node-2", "node-3"])
        lan.groups = nil
        lan.run(for: .seconds(10)) { $0.agreed()?.count == 4 }
        #expect(lan.agreed()?.count == 4)
    }
}
