/// A field selector (`metadata.name=foo,spec.nodeName!=bar`): equality requirements on named fields.
///
/// Only `=`, `==` and `!=` exist, as in kube-apiserver. Which fields are selectable is up to the resource; the
/// selector itself only compares strings.
public struct FieldSelector: Sendable, Hashable {
    public struct Requirement: Sendable, Hashable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var requirements: [Requirement]

    /// Parses the string form; backslash escapes `\,` `\=` `\\` are honoured.
    /// - Throws: `SelectorError` for a term without an operator.
    public init(parsing text: String) throws(SelectorError) {
        var reqs: [Requirement] = []
        for term in FieldSelector.splitTerms(text) where !term.isEmpty {
            if let r = term.firstRange(of: "!=") {
                reqs.append(
                    .init(
                        field: String(term[..<r.lowerBound]), value: FieldSelector.unescape(term[r.upperBound...]),
                        negated: true))
            } else if let r = term.firstRange(of: "==") {
                reqs.append(
                    .init(
                        field: String(term[..<r.lowerBound]), value: FieldSelector.unescape(term[r.upperBound...]),
                        negated: false))
            } else if let r = term.firstRange(of: "=") {
                reqs.append(
                    .init(
                        field: String(term[..<r.lowerBound]), value: FieldSelector.unescape(term[r.upperBound...]),
                        negated: false))
            } else {
                throw SelectorError("invalid selector: '\(text)'; can't understand '\(term)'")
            }
        }
        self.requirements = reqs
    }

    /// Whether the fields (looked up by `field`) satisfy every requirement; an unknown field reads as "".
    public func matches(_ field: (String) -> String?) -> Bool {
        requirements.allSatisfy { r in
            let v = field(r.field) ?? ""
            return r.negated ? v != r.value : v == r.value
        }
    }

    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped {
                current.append("\\")
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "," {
                terms.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        terms.append(current)
        return terms
    }

    private static func unescape(_ s: Substring) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
