/// A SWIM failure detector and membership list as a value: feed it the clock and received messages, carry out
/// the actions it returns. No I/O, no clock of its own, no randomness (probe order is round-robin over a
/// deterministic shuffle; indirect helpers are the next members in that order) — so tests replay exactly.
///
/// Per protocol period each member pings one other member; without an ack after `ackTimeout` it asks
/// `indirectProbes` others to ping it; still without an ack at the end of the period the target is suspected;
/// a suspect that does not refute (by raising its incarnation) within `suspicionTimeout` is declared dead. Updates
/// travel piggybacked on every message, each retransmitted a bounded number of times.
public struct SWIM: Sendable {
    public struct Configuration: Sendable {
        public var protocolPeriod: Duration
        public var ackTimeout: Duration
        public var suspicionTimeout: Duration
        public var indirectProbes: Int
        /// Updates carried per message.
        public var maxPiggyback: Int

        /// Defaults sized for a LAN of up to 50 speakers: a dead member is declared by everyone within about
        /// 300–450 ms (waiting to be probed, one period of probing, the suspicion timeout); 20 probes/s per member.
        public init(
            protocolPeriod: Duration = .milliseconds(50), ackTimeout: Duration = .milliseconds(20),
            suspicionTimeout: Duration = .milliseconds(150), indirectProbes: Int = 2, maxPiggyback: Int = 8
        ) {
            self.protocolPeriod = protocolPeriod
            self.ackTimeout = ackTimeout
            self.suspicionTimeout = suspicionTimeout
            self.indirectProbes = indirectProbes
            self.maxPiggyback = maxPiggyback
        }
    }

    public struct Member: Sendable, Equatable {
        public var address: String
        public var incarnation: UInt64
        public var state: MemberUpdate.State
        public var since: ContinuousClock.Instant
    }

    public enum Action: Sendable, Equatable {
        case send(MembershipMessage, to: String)
        /// A member became alive (joined, refuted), suspect, dead or left.
        case changed(name: String, state: MemberUpdate.State)
    }

    public let name: String
    public let address: String
    public private(set) var incarnation: UInt64
    public private(set) var members: [String: Member] = [:]
    private let configuration: Configuration

    private var sequence: UInt32 = 0
    private var probe:
        (target: String, sequence: UInt32, started: ContinuousClock.Instant, indirect: Bool, acked: Bool)? =
            nil
    private var nextProbe: ContinuousClock.Instant? = nil
    private var order: [String] = []
    private var position = 0
    /// Pings sent on behalf of another member: our sequence → (requester address, their sequence).
    private var relays: [UInt32: (address: String, sequence: UInt32, started: ContinuousClock.Instant)] = [:]
    /// Gossip to spread: update and remaining transmissions.
    private var gossip: [(update: MemberUpdate, remaining: Int)] = []
    private var periods = 0
    /// Every this many periods one dead member is pinged.
    static let reconnectEvery = 10

    /// - Parameter incarnation: start above any incarnation this member used before (e.g. seconds since the
    ///   epoch at start-up), so a restarted speaker overrides its own old "dead" record.
    public init(name: String, address: String, incarnation: UInt64, configuration: Configuration = .init()) {
        self.name = name
        self.address = address
        self.incarnation = incarnation
        self.configuration = configuration
    }

    /// Names considered live (alive or suspect), this member included.
    public var live: Set<String> {
        Set(members.filter { $0.value.state == .alive || $0.value.state == .suspect }.keys).union([name])
    }

    /// Introduces this member to `seeds` (membership addresses of other speakers).
    public mutating func join(seeds: [String], now: ContinuousClock.Instant) -> [Action] {
        spread(MemberUpdate(name: name, address: address, incarnation: incarnation, state: .alive))
        return seeds.filter { $0 != address }.map {
            .send(.ping(sequence: nextSequence(), updates: piggyback()), to: $0)
        }
    }

    /// Tells every live member this one leaves now, and the addresses in `others` too (members it may not have heard
    /// from yet, e.g. the one about to take over), each once.
    public mutating func leave(alsoTo others: [String] = []) -> [Action] {
        var told: Set<String> = [address]
        let live = members.values.filter { $0.state == .alive || $0.state == .suspect }.map(\.address).sorted()
        return (live + others.sorted()).filter { told.insert($0).inserted }.map {
            .send(.leave(incarnation: incarnation), to: $0)
        }
    }

    /// Advances timers: probe timeouts, suspicion expiry, the next probe.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        if let p = probe, !p.acked {
            if !p.indirect, now >= p.started + configuration.ackTimeout {
                probe?.indirect = true
                if let target = members[p.target] {
                    for helper in helpers(excluding: p.target) {
                        actions.append(
                            .send(
                                .pingRequest(
                                    sequence: p.sequence, target: p.target, address: target.address,
                                    updates: piggyback()), to: helper))
                    }
                }
            }
            if now >= p.started + configuration.protocolPeriod {
                probe = nil
                if var m = members[p.target], m.state == .alive {
                    m.state = .suspect
                    m.since = now
                    members[p.target] = m
                    let update = MemberUpdate(
                        name: p.target, address: m.address, incarnation: m.incarnation, state: .suspect)
                    spread(update)
                    actions += broadcast(update)
                    actions.append(.changed(name: p.target, state: .suspect))
                }
            }
        }
        for (memberName, m) in members where m.state == .suspect && now >= m.since + configuration.suspicionTimeout {
            members[memberName]?.state = .dead
            members[memberName]?.since = now
            let update = MemberUpdate(name: memberName, address: m.address, incarnation: m.incarnation, state: .dead)
            spread(update)
            actions += broadcast(update)
            actions.append(.changed(name: memberName, state: .dead))
        }
        relays = relays.filter { now < $0.value.started + configuration.protocolPeriod }
        // Now and then knock on a dead member's door, so partitions heal.
        if nextProbe.map({ now >= $0 }) ?? true {
            periods += 1
            let dead = order.filter { members[$0]?.state == .dead }
            if periods % Self.reconnectEvery == 0, !dead.isEmpty {
                let target = dead[(periods / Self.reconnectEvery) % dead.count]
                actions.append(
                    .send(.ping(sequence: nextSequence(), updates: piggyback()), to: members[target]!.address))
            }
        }
        if probe == nil || probe!.acked, nextProbe.map({ now >= $0 }) ?? true, let target = nextTarget() {
            let sequence = nextSequence()
            probe = (target, sequence, now, false, false)
            nextProbe = now + configuration.protocolPeriod
            actions.append(.send(.ping(sequence: sequence, updates: piggyback()), to: members[target]!.address))
        }
        return actions
    }

    /// Handles a verified message from `sender` (its name) received from `from` (its address).
    public mutating func receive(
        _ message: MembershipMessage, sender: String, from: String, now: ContinuousClock.Instant
    ) -> [Action] {
        var actions: [Action] = []
        if case .leave = message {
            guard members[sender] != nil else { return [] }
        } else if members[sender] == nil, sender != name {
            // A member we have not heard of talks to us: it is alive at this address.
            actions += apply(MemberUpdate(name: sender, address: from, incarnation: 0, state: .alive), now: now)
        } else if let known = members[sender], known.state == .dead {
            // It talks although we declared it dead (a healed partition): tell it, so that it refutes.
            spread(MemberUpdate(name: sender, address: known.address, incarnation: known.incarnation, state: .dead))
        }
        for update in message.updates { actions += apply(update, now: now) }
        switch message {
        case .ping(let sequence, _):
            actions.append(.send(.ack(sequence: sequence, updates: piggyback()), to: from))
        case .ack(let sequence, _):
            if let p = probe, p.sequence == sequence, p.target == sender { probe?.acked = true }
            if let relay = relays.removeValue(forKey: sequence) {
                actions.append(.send(.ack(sequence: relay.sequence, updates: piggyback()), to: relay.address))
            }
            // An indirect ack arrives from the helper, not the target.
            if let p = probe, p.sequence == sequence, p.indirect { probe?.acked = true }
        case .pingRequest(let theirs, _, let address, _):
            let ours = nextSequence()
            relays[ours] = (from, theirs, now)
            actions.append(.send(.ping(sequence: ours, updates: piggyback()), to: address))
        case .gossip:
            break
        case .leave(let incarnation):
            if var m = members[sender], m.state != .left {
                m.state = .left
                m.incarnation = max(m.incarnation, incarnation)
                m.since = now
                members[sender] = m
                spread(MemberUpdate(name: sender, address: m.address, incarnation: m.incarnation, state: .left))
                actions.append(.changed(name: sender, state: .left))
            }
        }
        return actions
    }

    /// SWIM's precedence rules for one update.
    private mutating func apply(_ u: MemberUpdate, now: ContinuousClock.Instant) -> [Action] {
        if u.name == name {
            // Someone thinks this member is suspect or dead: refute with a higher incarnation. A claim about an older
            // incarnation is answered too (with the current one): its sender may have learned of this member only
            // by contact, without the incarnation, and would otherwise never take it back.
            guard u.state == .suspect || u.state == .dead else { return [] }
            if u.incarnation >= incarnation { incarnation = u.incarnation + 1 }
            let refutation = MemberUpdate(name: name, address: address, incarnation: incarnation, state: .alive)
            spread(refutation)
            return broadcast(refutation)
        }
        guard let known = members[u.name] else {
            guard u.state == .alive || u.state == .suspect else { return [] }
            members[u.name] = Member(address: u.address, incarnation: u.incarnation, state: u.state, since: now)
            // Each member walks the others in its own order, so probes spread instead of converging on one target.
            let key = probeOrderKey(u.name)
            order.insert(u.name, at: order.firstIndex { probeOrderKey($0) > key } ?? order.endIndex)
            spread(u)
            return [.changed(name: u.name, state: u.state)]
        }
        let wins: Bool
        switch (u.state, known.state) {
        case (.alive, _): wins = u.incarnation > known.incarnation
        case (.suspect, .alive): wins = u.incarnation >= known.incarnation
        case (.suspect, .suspect): wins = u.incarnation > known.incarnation
        case (.suspect, _): wins = false
        case (.dead, .alive), (.dead, .suspect), (.left, .alive), (.left, .suspect):
            wins = u.incarnation >= known.incarnation
        case (.dead, _), (.left, _): wins = false
        }
        guard wins else { return [] }
        let changed = known.state != u.state
        members[u.name] = Member(address: u.address, incarnation: u.incarnation, state: u.state, since: now)
        spread(u)
        return changed ? [.changed(name: u.name, state: u.state)] : []
    }

    /// Sends one update straight to every live member. Used only for suspicions, deaths and refutations — rare
    /// events — so that every member starts and ends a suspicion at nearly the same moment and agrees quickly.
    private func broadcast(_ update: MemberUpdate) -> [Action] {
        members.filter { ($0.value.state == .alive || $0.value.state == .suspect) && $0.key != update.name }
            .map(\.value.address).sorted().map { .send(.gossip(updates: [update]), to: $0) }
    }

    private mutating func spread(_ update: MemberUpdate) {
        gossip.removeAll { $0.update.name == update.name }
        // λ·log2(n+1) transmissions, λ = 3: enough for every member to hear it with high probability.
        let n = members.count + 1
        gossip.append((update, 3 * (Int.bitWidth - (n + 1).leadingZeroBitCount)))
    }

    private mutating func piggyback() -> [MemberUpdate] {
        gossip.sort { $0.remaining > $1.remaining }
        let chosen = gossip.prefix(configuration.maxPiggyback).map(\.update)
        for i in gossip.indices.prefix(configuration.maxPiggyback) { gossip[i].remaining -= 1 }
        gossip.removeAll { $0.remaining <= 0 }
        return chosen
    }

    private mutating func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Round-robin over members that are alive or suspect.
    private mutating func nextTarget() -> String? {
        let candidates = order.filter { members[$0]?.state == .alive || members[$0]?.state == .suspect }
        guard !candidates.isEmpty else { return nil }
        position = (position + 1) % candidates.count
        return candidates[position]
    }

    /// FNV-1a over this member's name and the other's: a stable order that differs from member to member.
    private func probeOrderKey(_ other: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in Array(name.utf8) + [0] + Array(other.utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    private func helpers(excluding target: String) -> [String] {
        let others = order.filter { $0 != target && members[$0]?.state == .alive }
        return Array(others.prefix(configuration.indirectProbes)).compactMap { members[$0]?.address }
    }
}
