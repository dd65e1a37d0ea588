import OrderedCollections

extension JSON {
    /// How deeply arrays and objects nest in the value: 0 for a scalar, 1 for `[]` or `[1]`, 2 for `[[1]]`.
    /// Computed with an explicit stack, so any depth is measured without recursion.
    public var nestingDepth: Int {
        var deepest = 0
        var pending: [(JSON, Int)] = [(self, 0)]
        while let (value, depth) = pending.popLast() {
            switch value {
            case .array(let items):
                deepest = max(deepest, depth + 1)
                for item in items { pending.append((item, depth + 1)) }
            case .object(let members):
                deepest = max(deepest, depth + 1)
                for member in members.values { pending.append((member, depth + 1)) }
            default:
                break
            }
        }
        return deepest
    }
}
