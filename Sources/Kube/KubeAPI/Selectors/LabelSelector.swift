import OrderedCollections

/// A label selector: the string form used in `?labelSelector=` (`a=b,c!=d,e in (x,y),!f,g`) and the structured
/// `metav1.LabelSelector` (`matchLabels` + `matchExpressions`), both reduced to requirements that must all hold.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// One requirement on one label key.
    public struct Requirement: Sendable, Hashable {
        public enum Operator: String, Sendable, Hashable {
            case equals = "="
            case notEquals = "!="
            case `in` = "in"
            case notIn = "notin"
            case exists = "exists"
            case doesNotExist = "!"
        }

        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String] = []) {
            self.key = key
            self.op = op
            self.values = values
        }

        /// Whether the labels satisfy this requirement (a missing key satisfies `!=`, `notin` and `!`).
        public func matches(_ labels: [String: String]) -> Bool {
            let value = labels[key]
            switch op {
            case .equals: return value == values.first
            case .notEquals: return value != values.first
            case .in: return value.map(values.contains) ?? false
            case .notIn: return value.map { !values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            }
        }
    }

    public var requirements: [Requirement]

    /// A selector with no requirements: matches everything.
    public static let everything = LabelSelector(requirements: [])

    public init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// Whether all requirements hold for `labels`.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    public var isEverything: Bool { requirements.isEmpty }

    public var description: String {
        requirements.map { r in
            switch r.op {
            case .equals, .notEquals: return "\(r.key)\(r.op.rawValue)\(r.values.first ?? "")"
            case .in, .notIn: return "\(r.key) \(r.op.rawValue) (\(r.values.joined(separator: ",")))"
            case .exists: return r.key
            case .doesNotExist: return "!\(r.key)"
            }
        }.joined(separator: ",")
    }

    /// Parses the string form.
    /// - Throws: `SelectorError` naming what is wrong.
    public init(parsing text: String) throws(SelectorError) {
        var reqs: [Requirement] = []
        var scanner = SelectorScanner(text)
        scanner.skipSpaces()
        if scanner.atEnd {
            self.requirements = []
            return
        }
        while true {
            scanner.skipSpaces()
            if scanner.consume("!") {
                scanner.skipSpaces()
                let key = scanner.word()
                try LabelSelector.validateKey(key)
                reqs.append(Requirement(key: key, op: .doesNotExist))
            } else {
                let key = scanner.word()
                try LabelSelector.validateKey(key)
                scanner.skipSpaces()
                if scanner.consume("!=") {
                    scanner.skipSpaces()
                    let value = scanner.word()
                    try LabelSelector.validateValue(value)
                    reqs.append(Requirement(key: key, op: .notEquals, values: [value]))
                } else if scanner.consume("==") || scanner.consume("=") {
                    scanner.skipSpaces()
                    let value = scanner.word()
                    try LabelSelector.validateValue(value)
                    reqs.append(Requirement(key: key, op: .equals, values: [value]))
                } else if scanner.consumeKeyword("notin") {
                    reqs.append(Requirement(key: key, op: .notIn, values: try scanner.valueSet()))
                } else if scanner.consumeKeyword("in") {
                    reqs.append(Requirement(key: key, op: .in, values: try scanner.valueSet()))
                } else {
                    reqs.append(Requirement(key: key, op: .exists))
                }
            }
            scanner.skipSpaces()
            if scanner.atEnd { break }
            guard scanner.consume(",") else {
                throw SelectorError("unable to parse requirement: found '\(scanner.rest)', expected: ','")
            }
        }
        self.requirements = reqs
    }

    /// Builds a selector from a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions` with operators
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`). A missing or null object selects everything.
    /// - Throws: `SelectorError` for an unknown operator or invalid keys and values.
    public init(json: JSON?) throws(SelectorError) {
        var reqs: [Requirement] = []
        guard let json, !json.isNull else {
            self.requirements = []
            return
        }
        for (key, value) in json["matchLabels"]?.objectValue ?? [:] {
            try LabelSelector.validateKey(key)
            guard let v = value.stringValue else { throw SelectorError("matchLabels[\(key)] must be a string") }
            try LabelSelector.validateValue(v)
            reqs.append(Requirement(key: key, op: .equals, values: [v]))
        }
        for expression in json["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            try LabelSelector.validateKey(key)
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch expression["operator"]?.stringValue {
            case "In":
                guard !values.isEmpty else { throw SelectorError("values: must be specified when `operator` is 'In'") }
                reqs.append(Requirement(key: key, op: .in, values: values))
            case "NotIn":
                guard !values.isEmpty else {
                    throw SelectorError("values: must be specified when `operator` is 'NotIn'")
                }
                reqs.append(Requirement(key: key, op: .notIn, values: values))
            case "Exists":
                guard values.isEmpty else {
                    throw SelectorError("values: may not be specified when `operator` is 'Exists'")
                }
                reqs.append(Requirement(key: key, op: .exists))
            case "DoesNotExist":
                guard values.isEmpty else {
                    throw SelectorError("values: may not be specified when `operator` is 'DoesNotExist'")
                }
                reqs.append(Requirement(key: key, op: .doesNotExist))
            case let other:
                throw SelectorError("\"\(other ?? "")\" is not a valid label selector operator")
            }
        }
        self.requirements = reqs
    }

    static func validateKey(_ key: String) throws(SelectorError) {
        guard LabelSelector.isQualifiedName(key) else {
            throw SelectorError(
                "invalid label key \"\(key)\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            )
        }
    }

    static func validateValue(_ value: String) throws(SelectorError) {
        guard value.isEmpty || (value.utf8.count <= 63 && isNameSegment(value)) else {
            throw SelectorError(
                "invalid label value: \"\(value)\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            )
        }
    }

    /// Whether `key` is a Kubernetes qualified name: an optional DNS subdomain prefix and `/`, then a name of at
    /// most 63 characters.
    public static func isQualifiedName(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, name.utf8.count <= 63,
            isNameSegment(Substring(name))
        else { return false }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.utf8.count <= 253,
                prefix.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
            else { return false }
        }
        return true
    }

    static func isNameSegment(_ s: some StringProtocol) -> Bool {
        guard let first = s.first, let last = s.last, isAlnum(first), isAlnum(last) else { return false }
        return s.allSatisfy { isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    private static func isAlnum(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber)
    }
}

/// A selector that could not be parsed, with kube-apiserver's wording where it has one.
public struct SelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

struct SelectorScanner {
    private let chars: [Character]
    private var index = 0

    init(_ text: String) { self.chars = Array(text) }

    var atEnd: Bool { index >= chars.count }
    var rest: String { String(chars[index...]) }

    mutating func skipSpaces() {
        while index < chars.count, chars[index] == " " { index += 1 }
    }

    mutating func consume(_ token: String) -> Bool {
        let t = Array(token)
        guard index + t.count <= chars.count, Array(chars[index..<(index + t.count)]) == t else { return false }
        index += t.count
        return true
    }

    /// Consumes a keyword followed by a space or `(`.
    mutating func consumeKeyword(_ word: String) -> Bool {
        let save = index
        guard consume(word) else { return false }
        if atEnd || chars[index] == " " || chars[index] == "(" { return true }
        index = save
        return false
    }

    mutating func word() -> String {
        let start = index
        while index < chars.count, !" ,=!()".contains(chars[index]) { index += 1 }
        return String(chars[start..<index])
    }

    mutating func valueSet() throws(SelectorError) -> [String] {
        skipSpaces()
        guard consume("(") else { throw SelectorError("found '\(rest)', expected: '('") }
        var values: [String] = []
        while true {
            skipSpaces()
            let v = word()
            try LabelSelector.validateValue(v)
            values.append(v)
            skipSpaces()
            if consume(")") { break }
            guard consume(",") else { throw SelectorError("found '\(rest)', expected: ',' or ')'") }
        }
        return values
    }
}
