extension LinearRegex {
    /// The parsed expression.
    indirect enum Node {
        case empty
        case set(ScalarSet)
        case assert(Assertion)
        case concat([Node])
        case alternate([Node])
        /// `maximum` nil: unbounded.
        case repeated(Node, minimum: Int, maximum: Int?)
    }

    /// The flags in effect: `(?i)` folds case, `(?m)` makes `^`/`$` match at lines, `(?s)` lets `.` match `\n`;
    /// `(?U)` (ungreedy) changes which match is found, never whether there is one, so it is accepted and ignored.
    struct Flags {
        var foldCase = false
        var multiLine = false
        var dotAll = false
    }

    /// Recursive descent over the pattern's scalars; group nesting is counted and bounded.
    struct Parser {
        private let scalars: [Unicode.Scalar]
        private var index = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func parseWhole() throws(SyntaxError) -> Node {
            var flags = Flags()
            let node = try alternation(&flags, depth: 0)
            guard index == scalars.count else { throw SyntaxError("unexpected )", text(0..<scalars.count)) }
            return node
        }

        // MARK: Structure

        /// Branches up to the end or an unmatched `)`, which is left for the caller.
        private mutating func alternation(_ flags: inout Flags, depth: Int) throws(SyntaxError) -> Node {
            var branches: [Node] = []
            var items: [Node] = []
            while index < scalars.count, scalars[index] != ")" {
                let scalar = scalars[index]
                if scalar == "|" {
                    index += 1
                    branches.append(.concat(items))
                    items = []
                    continue
                }
                if scalar == "*" || scalar == "+" || scalar == "?" || (scalar == "{" && repeatCount(at: index) != nil) {
                    let end = scalar == "{" ? repeatCount(at: index)!.end : index + 1
                    guard let last = items.popLast() else {
                        throw SyntaxError("missing argument to repetition operator", text(index..<end))
                    }
                    items.append(try repetition(last))
                    continue
                }
                if scalar == "\\", index + 1 < scalars.count, scalars[index + 1] == "Q" {
                    // Each quoted scalar is its own item: `\Qab\E*` repeats the `b`, `\Q\E*` repeats nothing.
                    index += 2
                    while index < scalars.count {
                        if scalars[index] == "\\", index + 1 < scalars.count, scalars[index + 1] == "E" {
                            index += 2
                            break
                        }
                        items.append(.set(Self.literal(scalars[index], flags)))
                        index += 1
                    }
                    continue
                }
                guard let atom = try atom(&flags, depth: depth) else { continue }
                items.append(atom)
            }
            branches.append(.concat(items))
            return branches.count == 1 ? branches[0] : .alternate(branches)
        }

        /// The repetition operator at `index` applied to `node`, with its lazy `?` if any.
        private mutating func repetition(_ node: Node) throws(SyntaxError) -> Node {
            let start = index
            let repeated: Node
            switch scalars[index] {
            case "*":
                index += 1
                repeated = .repeated(node, minimum: 0, maximum: nil)
            case "+":
                index += 1
                repeated = .repeated(node, minimum: 1, maximum: nil)
            case "?":
                index += 1
                repeated = .repeated(node, minimum: 0, maximum: 1)
            default:
                let count = repeatCount(at: index)!
                index = count.end
                guard count.minimum <= LinearRegex.maximumRepeat, (count.maximum ?? 0) <= LinearRegex.maximumRepeat,
                    count.minimum <= (count.maximum ?? count.minimum)
                else { throw SyntaxError("invalid repeat count", text(start..<index)) }
                repeated = .repeated(node, minimum: count.minimum, maximum: count.maximum)
                guard Self.weight(repeated) <= LinearRegex.maximumRepeat else {
                    throw SyntaxError("invalid repeat count", text(start..<index))
                }
            }
            if index < scalars.count, scalars[index] == "?" { index += 1 }
            if index < scalars.count {
                let next = scalars[index]
                if next == "*" || next == "+" || next == "?" || (next == "{" && repeatCount(at: index) != nil) {
                    throw SyntaxError("invalid nested repetition operator", text(start..<(index + 1)))
                }
            }
            return repeated
        }

        /// `{n}`, `{n,}` or `{n,m}` at `position` (else `{` is a literal, as in Go).
        private func repeatCount(at position: Int) -> (minimum: Int, maximum: Int?, end: Int)? {
            var i = position + 1
            func number() -> Int? {
                var value = 0
                var digits = 0
                while i < scalars.count,
                    let digit = scalars[i].properties.numericType == .decimal
                        ? Int(String(scalars[i])) : nil
                {
                    value = min(value * 10 + digit, 1_000_000)
                    digits += 1
                    i += 1
                }
                return digits > 0 ? value : nil
            }
            guard let minimum = number() else { return nil }
            var maximum: Int? = minimum
            if i < scalars.count, scalars[i] == "," {
                i += 1
                maximum = number()
            }
            guard i < scalars.count, scalars[i] == "}" else { return nil }
            return (minimum, maximum, i + 1)
        }

        /// The largest product of counts along any path of nested repetitions (Go refuses more than 1000).
        private static func weight(_ node: Node) -> Int {
            switch node {
            case .empty, .set, .assert: return 1
            case .concat(let nodes), .alternate(let nodes): return nodes.map(weight).max() ?? 1
            case .repeated(let inner, let minimum, let maximum):
                let count = maximum ?? minimum
                return count > 1 ? min(count * weight(inner), Int(Int32.max)) : weight(inner)
            }
        }

        /// One atom; `nil` for a flag group such as `(?i)`, which changes `flags` for the rest of the group.
        private mutating func atom(_ flags: inout Flags, depth: Int) throws(SyntaxError) -> Node? {
            let scalar = scalars[index]
            switch scalar {
            case "(":
                return try group(&flags, depth: depth)
            case "[":
                return .set(try characterClass(flags))
            case ".":
                index += 1
                var set = ScalarSet(items: [.range(0...9), .range(11...0x10FFFF)])
                if flags.dotAll { set.items = [.range(0...0x10FFFF)] }
                return .set(set)
            case "^":
                index += 1
                return .assert(flags.multiLine ? .beginLine : .beginText)
            case "$":
                index += 1
                return .assert(flags.multiLine ? .endLine : .endText)
            case "\\":
                return try escape(flags)
            default:
                index += 1
                return .set(Self.literal(scalar, flags))
            }
        }

        private mutating func group(_ flags: inout Flags, depth: Int) throws(SyntaxError) -> Node? {
            let start = index
            guard depth < LinearRegex.maximumNesting else {
                throw SyntaxError("expression nests too deeply", text(start..<min(scalars.count, start + 20)))
            }
            index += 1
            var inner = flags
            if index < scalars.count, scalars[index] == "?" {
                index += 1
                if index < scalars.count, scalars[index] == "P" || scalars[index] == "<" {
                    if scalars[index] == "P" { index += 1 }
                    guard index < scalars.count, scalars[index] == "<" else {
                        throw SyntaxError(
                            "invalid or unsupported Perl syntax", text(start..<min(index + 1, scalars.count)))
                    }
                    index += 1
                    let nameStart = index
                    while index < scalars.count, Context.isWord(scalars[index]) { index += 1 }
                    guard index < scalars.count, scalars[index] == ">", index > nameStart else {
                        throw SyntaxError("invalid named capture", text(start..<min(index + 1, scalars.count)))
                    }
                    index += 1
                } else {
                    var negate = false
                    var any = false
                    while true {
                        guard index < scalars.count else {
                            throw SyntaxError("missing closing )", text(start..<scalars.count))
                        }
                        let c = scalars[index]
                        index += 1
                        switch c {
                        case "i": inner.foldCase = !negate
                        case "m": inner.multiLine = !negate
                        case "s": inner.dotAll = !negate
                        case "U": break
                        case "-" where !negate:
                            negate = true
                            any = false
                            continue
                        case ")" where any, ":" where any || !negate:
                            if c == ")" {
                                flags = inner
                                return nil
                            }
                        default:
                            throw SyntaxError("invalid or unsupported Perl syntax", text(start..<index))
                        }
                        if c == ":" { break }
                        any = true
                    }
                }
            }
            let node = try alternation(&inner, depth: depth + 1)
            guard index < scalars.count, scalars[index] == ")" else {
                throw SyntaxError("missing closing )", text(start..<scalars.count))
            }
            index += 1
            return node
        }

        // MARK: Escapes

        private mutating func escape(_ flags: Flags) throws(SyntaxError) -> Node {
            let start = index
            guard index + 1 < scalars.count else { throw SyntaxError("trailing backslash at end of expression", "") }
            let assertions: [Unicode.Scalar: Assertion] = [
                "A": .beginText, "z": .endText, "b": .wordBoundary, "B": .notWordBoundary,
            ]
            switch scalars[index + 1] {
            case let letter where assertions[letter] != nil:
                index += 2
                return .assert(assertions[letter]!)
            default:
                if var set = try classEscape() {
                    set.foldCase = flags.foldCase
                    return .set(set)
                }
                index = start
                return .set(Self.literal(try escapedScalar(), flags))
            }
        }

        /// `\d \D \s \S \w \W \p… \P…` at `index` as a set (and moves past it), or `nil` for any other escape.
        private mutating func classEscape() throws(SyntaxError) -> ScalarSet? {
            let start = index
            let letter = scalars[index + 1]
            let perl: [ClosedRange<UInt32>]?
            switch letter {
            case "d", "D": perl = [0x30...0x39]
            case "s", "S": perl = [0x09...0x0A, 0x0C...0x0D, 0x20...0x20]
            case "w", "W": perl = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
            case "p", "P": perl = nil
            default: return nil
            }
            index += 2
            if let perl {
                return ScalarSet(items: perl.map { .range($0) }, negated: letter.properties.isUppercase)
            }
            var name: String
            if index < scalars.count, scalars[index] == "{" {
                let open = index
                while index < scalars.count, scalars[index] != "}" { index += 1 }
                guard index < scalars.count else {
                    throw SyntaxError("invalid character class range", text(start..<scalars.count))
                }
                name = text((open + 1)..<index)
                index += 1
            } else {
                guard index < scalars.count else {
                    throw SyntaxError("invalid character class range", text(start..<index))
                }
                name = String(scalars[index])
                index += 1
            }
            var negated = letter == "P"
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
            guard let item = Self.unicodeClass(name) else {
                throw SyntaxError("invalid character class range", text(start..<index))
            }
            return ScalarSet(items: [item], negated: negated)
        }

        /// One escaped scalar (`\n`, `\x{263a}`, `\052`, `\.`) at `index`, which it moves past.
        private mutating func escapedScalar() throws(SyntaxError) -> Unicode.Scalar {
            let start = index
            index += 2
            let letter = scalars[start + 1]
            func invalid() -> SyntaxError {
                SyntaxError("invalid escape sequence", text(start..<min(index, scalars.count)))
            }
            switch letter {
            case "a": return "\u{07}"
            case "f": return "\u{0C}"
            case "t": return "\t"
            case "n": return "\n"
            case "r": return "\r"
            case "v": return "\u{0B}"
            case "0"..."7":
                // A single non-zero digit would be a backreference, which RE2 does not have.
                guard letter == "0" || (index < scalars.count && ("0"..."7").contains(scalars[index])) else {
                    throw invalid()
                }
                var value = letter.value - 0x30
                var digits = 1
                while digits < 3, index < scalars.count, ("0"..."7").contains(scalars[index]) {
                    value = value * 8 + scalars[index].value - 0x30
                    digits += 1
                    index += 1
                }
                return Unicode.Scalar(value)!
            case "x":
                var value: UInt32 = 0
                if index < scalars.count, scalars[index] == "{" {
                    index += 1
                    var digits = 0
                    while index < scalars.count, let digit = Self.hexValue(scalars[index]) {
                        value = value * 16 + digit
                        digits += 1
                        index += 1
                        guard value <= 0x10FFFF else { throw invalid() }
                    }
                    guard digits > 0, index < scalars.count, scalars[index] == "}" else { throw invalid() }
                    index += 1
                } else {
                    for _ in 0..<2 {
                        guard index < scalars.count, let digit = Self.hexValue(scalars[index]) else { throw invalid() }
                        value = value * 16 + digit
                        index += 1
                    }
                }
                guard let scalar = Unicode.Scalar(value) else { throw invalid() }
                return scalar
            default:
                // Punctuation stands for itself; letters and digits that mean nothing are errors.
                guard letter.isASCII, letter == "_" || !Context.isWord(letter) else { throw invalid() }
                return letter
            }
        }

        // MARK: Classes

        /// `[…]` at `index`, which it moves past.
        private mutating func characterClass(_ flags: Flags) throws(SyntaxError) -> ScalarSet {
            let start = index
            index += 1
            var set = ScalarSet(foldCase: flags.foldCase)
            if index < scalars.count, scalars[index] == "^" {
                set.negated = true
                index += 1
            }
            var first = true
            while true {
                guard index < scalars.count else { throw SyntaxError("missing closing ]", text(start..<scalars.count)) }
                let scalar = scalars[index]
                if scalar == "]", !first { break }
                first = false
                if scalar == "[", index + 1 < scalars.count, scalars[index + 1] == ":" {
                    if let (items, negated, end) = try posixClass(at: index) {
                        set.items += negated ? Self.complement(items) : items
                        index = end
                        continue
                    }
                }
                if scalar == "\\", index + 1 < scalars.count, let perl = try classEscape() {
                    set.items += perl.negated ? Self.complement(perl.items) : perl.items
                    continue
                }
                let rangeStart = index
                let low = try classScalar()
                var high = low
                if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                    index += 1
                    high = try classScalar()
                    guard low.value <= high.value else {
                        throw SyntaxError("invalid character class range", text(rangeStart..<index))
                    }
                }
                set.items.append(.range(low.value...high.value))
            }
            index += 1
            return set
        }

        private mutating func classScalar() throws(SyntaxError) -> Unicode.Scalar {
            guard index < scalars.count else { throw SyntaxError("missing closing ]", text(0..<scalars.count)) }
            if scalars[index] == "\\" {
                guard index + 1 < scalars.count else {
                    throw SyntaxError("trailing backslash at end of expression", "")
                }
                return try escapedScalar()
            }
            index += 1
            return scalars[index - 1]
        }

        /// `[:name:]` or `[:^name:]` at `position`: its ranges, whether negated, and where it ends; `nil` when no
        /// `:]` follows (then `[` is a literal, as in Go).
        private func posixClass(at position: Int) throws(SyntaxError) -> ([ScalarSet.Item], Bool, Int)? {
            var close = position + 2
            while close + 1 < scalars.count, !(scalars[close] == ":" && scalars[close + 1] == "]") { close += 1 }
            guard close + 1 < scalars.count else { return nil }
            var nameStart = position + 2
            let negated = scalars[nameStart] == "^"
            if negated { nameStart += 1 }
            let i = close
            let ranges: [ClosedRange<UInt32>]
            switch text(nameStart..<i) {
            case "alnum": ranges = [0x30...0x39, 0x41...0x5A, 0x61...0x7A]
            case "alpha": ranges = [0x41...0x5A, 0x61...0x7A]
            case "ascii": ranges = [0x00...0x7F]
            case "blank": ranges = [0x09...0x09, 0x20...0x20]
            case "cntrl": ranges = [0x00...0x1F, 0x7F...0x7F]
            case "digit": ranges = [0x30...0x39]
            case "graph": ranges = [0x21...0x7E]
            case "lower": ranges = [0x61...0x7A]
            case "print": ranges = [0x20...0x7E]
            case "punct": ranges = [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E]
            case "space": ranges = [0x09...0x0D, 0x20...0x20]
            case "upper": ranges = [0x41...0x5A]
            case "word": ranges = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
            case "xdigit": ranges = [0x30...0x39, 0x41...0x46, 0x61...0x66]
            default: throw SyntaxError("invalid character class range", text(position..<(close + 2)))
            }
            return (ranges.map { .range($0) }, negated, i + 2)
        }

        // MARK: Helpers

        private func text(_ range: Range<Int>) -> String {
            var string = ""
            string.unicodeScalars.append(contentsOf: scalars[range])
            return string
        }

        private static func literal(_ scalar: Unicode.Scalar, _ flags: Flags) -> ScalarSet {
            ScalarSet(items: [.range(scalar.value...scalar.value)], foldCase: flags.foldCase)
        }

        private static func hexValue(_ scalar: Unicode.Scalar) -> UInt32? {
            switch scalar {
            case "0"..."9": scalar.value - 0x30
            case "a"..."f": scalar.value - 0x61 + 10
            case "A"..."F": scalar.value - 0x41 + 10
            default: nil
            }
        }

        /// The scalars not in `items` (ranges only: Perl and POSIX classes), for a negated class inside `[…]`.
        private static func complement(_ items: [ScalarSet.Item]) -> [ScalarSet.Item] {
            var ranges = items.compactMap { item -> ClosedRange<UInt32>? in
                if case .range(let range) = item { return range }
                return nil
            }
            guard ranges.count == items.count else {
                // A negated Unicode class inside brackets: kept as its own negated item.
                return items.map { item in
                    if case .property(let property, let negated) = item {
                        return .property(property, negated: !negated)
                    }
                    return item
                }
            }
            ranges.sort { $0.lowerBound < $1.lowerBound }
            var result: [ScalarSet.Item] = []
            var next: UInt32 = 0
            for range in ranges {
                if range.lowerBound > next { result.append(.range(next...(range.lowerBound - 1))) }
                next = max(next, range.upperBound + 1)
            }
            if next <= 0x10FFFF { result.append(.range(next...0x10FFFF)) }
            return result
        }

        /// `\p{name}`: a general category (`Lu`), a group of them (`L`), or `Any`.
        private static func unicodeClass(_ name: String) -> ScalarSet.Item? {
            if name == "Any" { return .range(0...0x10FFFF) }
            if name.count == 1, let letter = name.first, "LMNPSZC".contains(letter) {
                return .property(.group(letter), negated: false)
            }
            let categories: [String: Unicode.GeneralCategory] = [
                "Lu": .uppercaseLetter, "Ll": .lowercaseLetter, "Lt": .titlecaseLetter, "Lm": .modifierLetter,
                "Lo": .otherLetter, "Mn": .nonspacingMark, "Mc": .spacingMark, "Me": .enclosingMark,
                "Nd": .decimalNumber, "Nl": .letterNumber, "No": .otherNumber, "Pc": .connectorPunctuation,
                "Pd": .dashPunctuation, "Ps": .openPunctuation, "Pe": .closePunctuation, "Pi": .initialPunctuation,
                "Pf": .finalPunctuation, "Po": .otherPunctuation, "Sm": .mathSymbol, "Sc": .currencySymbol,
                "Sk": .modifierSymbol, "So": .otherSymbol, "Zs": .spaceSeparator, "Zl": .lineSeparator,
                "Zp": .paragraphSeparator, "Cc": .control, "Cf": .format, "Cs": .surrogate, "Co": .privateUse,
                "Cn": .unassigned,
            ]
            return categories[name].map { .property(.category($0), negated: false) }
        }

        /// The one-letter group of a general category (`L` for `Lu`).
        static func group(of category: Unicode.GeneralCategory) -> Character {
            switch category {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: "L"
            case .nonspacingMark, .spacingMark, .enclosingMark: "M"
            case .decimalNumber, .letterNumber, .otherNumber: "N"
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                .finalPunctuation, .otherPunctuation:
                "P"
            case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: "S"
            case .spaceSeparator, .lineSeparator, .paragraphSeparator: "Z"
            default: "C"
            }
        }
    }
}
