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
            element: (Key, Value) -> NFTSetElement?
        ) {
            let gone = before.keys.filter { after[$0] == nil || after[$0] != before[$0] }.sorted()
            let new = after.keys.filter { before[$0] == nil || before[$0] != after[$0] }.sorted()
            let removed = gone.filter { old in element(old, before[old]!) != nil }.map(key)
            if !removed.isEmpty {
                deletions.append(.deleteElements(removed, from: set.name, table: table, family: family))
            }
            let added = new.compactMap { element($0, after[$0]!) }
            if !added.isEmpty { additions.append(.addElements(added, to: set, table: table, family: family)) }
        }

        // Verdict maps hold the routed targets; the no-endpoint sets the rejected ones.
        diff(old.services, services, set: maps.serviceIPs, key: maps.key) { key, target in
            ProxyMaps.verdict(for: target).map { NFTSetElement(key: maps.key(key), verdict: $0) }
        }
        diff(old.services, services, set: maps.noEndpoints, key: maps.key) { key, target in
            target == .reject ? NFTSetElement(key: maps.key(key)) : nil
        }
        diff(old.endpoints, endpoints, set: maps.endpoints, key: maps.key) { key, backend in
            NFTSetElement(key: maps.key(key), value: .data(maps.value(backend)))
        }
        diff(old.nodePorts, nodePorts, set: maps.nodePorts, key: maps.key) { key, target in
            ProxyMaps.verdict(for: target, nodePort: true).map { NFTSetElement(key: maps.key(key), verdict: $0) }
        }
        diff(old.nodePorts, nodePorts, set: maps.noEndpointNodePorts, key: maps.key) { key, target in
            target == .reject ? NFTSetElement(key: maps.key(key)) : nil
        }
        diff(old.nodePortEndpoints, nodePortEndpoints, set: maps.nodePortEndpoints, key: maps.key) { key, backend in
            NFTSetElement(key: maps.key(key), value: .data(maps.value(backend)))
        }
        let hairpinBefore = Dictionary(uniqueKeysWithValues: old.localEndpoints.map { ($0, true) })
        let hairpinAfter = Dictionary(uniqueKeysWithValues: localEndpoints.map { ($0, true) })
        diff(hairpinBefore, hairpinAfter, set: maps.hairpin, key: maps.hairpinKey) { address, _ in
            NFTSetElement(key: maps.hairpinKey(address))
        }
        return deletions + additions
    }
}
