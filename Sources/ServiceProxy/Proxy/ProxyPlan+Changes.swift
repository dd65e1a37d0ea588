import NFTables
import Netlink

extension ProxyPlan {
    /// The element changes that take the kernel's maps from `old` to this plan, for one batch: first every element
    /// that goes or changes is deleted, then every new or changed one added. Elements the two plans share are not
    /// touched, so one Service's change costs its own elements only.
    public func elementChanges(from old: ProxyPlan, maps: ProxyMaps) -> [NetlinkRequest] {
        let family = NFTFamily(maps.family)
        let table = ProxyMaps.table
        var deletions: [NetlinkRequest] = []
        var additions: [NetlinkRequest] = []

        func diff<Key: Hashable & Comparable, Value: Equatable>(
            _ before: [Key: Value], _ after: [Key: Value], set: NFTSet, key: (Key) -> [UInt8],
            element: (Key, Value) -> NFTSetElement
        ) {
            let gone = before.keys.filter { after[$0] == nil || after[$0] != before[$0] }.sorted()
            let new = after.keys.filter { before[$0] == nil || before[$0] != after[$0] }.sorted()
            for part in Self.parts(gone.map(key)) {
                deletions.append(.deleteElements(Array(part), from: set.name, table: table, family: family))
            }
            for part in Self.parts(new.map { element($0, after[$0]!) }) {
                additions.append(.addElements(Array(part), to: set, table: table, family: family))
            }
        }

        // Each service key and node port is in the set of its target; a key whose set changes moves.
        func move<Key: Hashable & Comparable>(
            _ before: [Key: Target], _ after: [Key: Target], set: (Target) -> NFTSet, key: (Key) -> [UInt8]
        ) {
            var gone: [String: (NFTSet, [Key])] = [:]
            var new: [String: (NFTSet, [Key])] = [:]
            for (item, target) in before where after[item].map({ set($0).name != set(target).name }) ?? true {
                gone[set(target).name, default: (set(target), [])].1.append(item)
            }
            for (item, target) in after where before[item].map({ set($0).name != set(target).name }) ?? true {
                new[set(target).name, default: (set(target), [])].1.append(item)
            }
            for name in gone.keys.sorted() {
                for part in Self.parts(gone[name]!.1.sorted().map(key)) {
                    deletions.append(.deleteElements(Array(part), from: name, table: table, family: family))
                }
            }
            for name in new.keys.sorted() {
                let (target, items) = new[name]!
                for part in Self.parts(items.sorted().map { NFTSetElement(key: key($0)) }) {
                    additions.append(.addElements(Array(part), to: target, table: table, family: family))
                }
            }
        }
        move(old.services, services, set: maps.serviceSet(for:), key: maps.key)
        move(old.nodePorts, nodePorts, set: maps.nodePortSet(for:), key: maps.key)
        diff(old.endpoints, endpoints, set: maps.endpoints, key: maps.key) { key, backend in
            NFTSetElement(key: maps.key(key), value: .data(maps.value(backend)))
        }
        diff(old.nodePortEndpoints, nodePortEndpoints, set: maps.nodePortEndpoints, key: maps.key) { key, backend in
            NFTSetElement(key: maps.key(key), value: .data(maps.value(backend)))
        }
        // Firewall chains come before the elements that jump to them, and go after the elements are gone.
        var chains: [NetlinkRequest] = []
        for chain in firewallChains.keys.sorted() where old.firewallChains[chain] == nil {
            chains += ProxyTables.firewallChain(chain, ranges: firewallChains[chain]!, maps: maps)
        }
        diff(old.firewall, firewall, set: maps.firewall, key: maps.key) { key, chain in
            NFTSetElement(key: maps.key(key), verdict: .goto(chain))
        }
        for chain in affinityChains.keys.sorted() where old.affinityChains[chain] == nil {
            chains += ProxyTables.affinityChain(chain, affinityChains[chain]!, maps: maps)
        }
        diff(old.affinity, affinity, set: maps.affinity, key: maps.key) { key, chain in
            NFTSetElement(key: maps.key(key), verdict: .goto(chain))
        }
        var removals = old.firewallChains.keys.sorted().filter { firewallChains[$0] == nil }.map {
            NetlinkRequest.deleteChain($0, table: table, family: family)
        }
        for chain in old.affinityChains.keys.sorted() where affinityChains[chain] == nil {
            removals += ProxyTables.removeAffinityChain(chain, old.affinityChains[chain]!, maps: maps)
        }
        let hairpinBefore = Dictionary(uniqueKeysWithValues: old.localEndpoints.map { ($0, true) })
        let hairpinAfter = Dictionary(uniqueKeysWithValues: localEndpoints.map { ($0, true) })
        diff(hairpinBefore, hairpinAfter, set: maps.hairpin, key: maps.hairpinKey) { address, _ in
            NFTSetElement(key: maps.hairpinKey(address))
        }
        return deletions + chains + additions + removals
    }

    /// Elements in messages of at most 256: a netlink attribute (the element list) holds at most 64 KiB.
    static func parts<Element>(_ elements: [Element]) -> [ArraySlice<Element>] {
        stride(from: 0, to: elements.count, by: 256).map { elements[$0..<min($0 + 256, elements.count)] }
    }
}
