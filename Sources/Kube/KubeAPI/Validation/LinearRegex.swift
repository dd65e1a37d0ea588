/// A regular expression in the syntax of Go's `regexp` package (RE2), the language of the `pattern`s that
/// kube-apiserver checks custom objects against, matched in time linear in the text: the expression compiles to a
/// small program whose threads all advance one scalar at a time (Thompson's construction), so no pattern, however
/// written, can make a match backtrack exponentially — `(a+)+$` against thirty `a`s and a `!` is as quick as any.
///
/// Supported: literals and `\Q…\E`; `.`; classes `[…]`, `[^…]` with ranges, `[:alpha:]`-style names, `\d \s \w`
/// and their negations, `\pL`/`\p{Lu}` general categories; `^ $ \A \z \b \B`; groups `(…)`, `(?:…)`,
/// `(?P<name>…)`, `(?<name>…)`; flags `i m s U` as `(?flags)` and `(?flags:…)`; `* + ? {n} {n,} {n,m}`, each
/// optionally lazy; `|`. As in RE2 there are no backreferences or lookaround: such a pattern is a `SyntaxError`.
/// Limits as in Go: counts up to 1000 (nested counts multiplied), nesting 1000 deep; and at most 100,000
/// instructions compiled.
///
/// A value: immutable after `init`, safe to share across threads.
public struct LinearRegex: Sendable {
    /// Why a pattern is not a regular expression, worded like Go's `regexp/syntax` errors.
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public var description: String
        init(_ code: String, _ fragment: some StringProtocol) { description = "\(code): `\(fragment)`" }
    }

    /// The largest count in `{n,m}`, and of nested counts multiplied.
    public static let maximumRepeat = 1000
    /// How deeply groups and repetitions may nest.
    public static let maximumNesting = 1000
    /// The most instructions a pattern may compile to.
    public static let maximumProgram = 100_000

    private let program: [Instruction]

    /// Compiles `pattern`.
    /// - Throws: `SyntaxError` naming what is wrong and where, as Go's `regexp.Compile` would refuse it.
    public init(_ pattern: String) throws(SyntaxError) {
        var parser = Parser(Array(pattern.unicodeScalars))
        let node = try parser.parseWhole()
        var compiler = Compiler()
        try compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
    }

    /// Whether the expression matches somewhere in `text` (Go's `MatchString`: unanchored unless the pattern
    /// anchors itself). Costs at most the text's length times the program's size.
    public func matches(_ text: String) -> Bool {
        var unlimited = Int.max
        return matches(text, budget: &unlimited) ?? false
    }

    /// `matches(_:)` within a budget of thread steps (about the text's length times the instructions alive at
    /// once), shared by as many calls as the caller likes: each spends from it; `nil` once it runs out.
    public func matches(_ text: String, budget: inout Int) -> Bool? {
        let scalars = Array(text.unicodeScalars)
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        var stack: [Int] = []
        for position in 0...scalars.count {
            // A thread starts at every position: the search is unanchored.
            add(0, to: &current, Context(scalars: scalars, position: position), stack: &stack)
            budget -= current.members.count
            guard budget >= 0 else { return nil }
            next.clear()
            for pc in current.members {
                switch program[pc] {
                case .match:
                    return true
                case .scalar(let set):
                    if position < scalars.count, set.contains(scalars[position]) {
                        add(pc + 1, to: &next, Context(scalars: scalars, position: position + 1), stack: &stack)
                    }
                default:
                    break
                }
            }
            swap(&current, &next)
        }
        return false
    }

    /// Adds `pc` and every instruction reachable from it without reading a scalar (an explicit stack, reused
    /// between calls: no recursion whose depth the pattern chooses).
    private func add(_ start: Int, to list: inout ThreadList, _ context: Context, stack: inout [Int]) {
        stack.append(start)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            switch program[pc] {
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .jump(let target):
                stack.append(target)
            case .assert(let assertion):
                if context.holds(assertion) { stack.append(pc + 1) }
            case .scalar, .match:
                break
            }
        }
    }
}

extension LinearRegex {
    enum Instruction: Sendable {
        case scalar(ScalarSet)
        case split(Int, Int)
        case jump(Int)
        case assert(Assertion)
        case match
    }

    enum Assertion: Sendable {
        case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
    }

    /// What one instruction reading a scalar accepts: any of `items` (or, `negated`, none of them), with case
    /// folded first under `(?i)`.
    struct ScalarSet: Sendable {
        enum Property: Sendable {
            case category(Unicode.GeneralCategory)
            /// The one-letter group of categories, `L` for all letters.
            case group(Character)
        }
        enum Item: Sendable {
            case range(ClosedRange<UInt32>)
            case property(Property, negated: Bool)
        }
        var items: [Item] = []
        var negated = false
        var foldCase = false

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            var inSet = matchesItem(scalar)
            if !inSet, foldCase {
                for mapping in [scalar.properties.lowercaseMapping, scalar.properties.uppercaseMapping] {
                    let other = mapping.unicodeScalars
                    if other.count == 1, let folded = other.first, folded != scalar, matchesItem(folded) {
                        inSet = true
                        break
                    }
                }
            }
            return inSet != negated
        }

        private func matchesItem(_ scalar: Unicode.Scalar) -> Bool {
            items.contains { item in
                switch item {
                case .range(let range):
                    return range.contains(scalar.value)
                case .property(let property, let negated):
                    let category = scalar.properties.generalCategory
                    switch property {
                    case .category(let wanted): return (category == wanted) != negated
                    case .group(let letter): return (Parser.group(of: category) == letter) != negated
                    }
                }
            }
        }
    }

    /// The text around one position, for assertions.
    struct Context {
        let scalars: [Unicode.Scalar]
        let position: Int

        func holds(_ assertion: Assertion) -> Bool {
            let before = position > 0 ? scalars[position - 1] : nil
            let after = position < scalars.count ? scalars[position] : nil
            switch assertion {
            case .beginText: return before == nil
            case .endText: return after == nil
            case .beginLine: return before == nil || before == "\n"
            case .endLine: return after == nil || after == "\n"
            case .wordBoundary: return Self.isWord(before) != Self.isWord(after)
            case .notWordBoundary: return Self.isWord(before) == Self.isWord(after)
            }
        }

        /// Go's `\b` knows ASCII word characters only.
        static func isWord(_ scalar: Unicode.Scalar?) -> Bool {
            guard let scalar, scalar.isASCII else { return false }
            return scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar)
        }
    }

    /// The instructions live at one position, each once, in the order they were reached.
    struct ThreadList {
        private(set) var members: [Int] = []
        private var present: [Bool]

        init(capacity: Int) { present = Array(repeating: false, count: capacity) }

        mutating func insert(_ pc: Int) -> Bool {
            guard !present[pc] else { return false }
            present[pc] = true
            members.append(pc)
            return true
        }

        mutating func clear() {
            for pc in members { present[pc] = false }
            members.removeAll(keepingCapacity: true)
        }
    }
}
