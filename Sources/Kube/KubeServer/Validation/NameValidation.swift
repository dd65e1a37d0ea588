import KubeAPI
import OrderedCollections

/// Kubernetes name rules (RFC 1123 subdomains and labels, RFC 1035 labels) with kube-apiserver's messages.
enum NameValidation {
    static let subdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let labelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let dns1035Message =
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 48 && c <= 57)
    }

    static func isLabel(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard !b.isEmpty, b.count <= 63, isLowerAlnum(b.first!), isLowerAlnum(b.last!) else { return false }
        return b.allSatisfy { isLowerAlnum($0) || $0 == 45 }
    }

    static func isSubdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }

    static func isDNS1035(_ s: String) -> Bool {
        guard let f = s.utf8.first, f >= 97, f <= 122 else { return false }
        return isLabel(s)
    }

    /// Causes for an invalid `metadata.name` under the rule the resource uses.
    static func nameCauses(_ name: String, rule: Rule) -> [Status.Cause] {
        switch rule {
        case .subdomain where !isSubdomain(name):
            return [
                .init(
                    type: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(subdomainMessage)",
                    field: "metadata.name")
            ]
        case .label where !isLabel(name):
            return [
                .init(
                    type: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(labelMessage)",
                    field: "metadata.name")
            ]
        case .dns1035 where !isDNS1035(name):
            return [
                .init(
                    type: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(dns1035Message)",
                    field: "metadata.name")
            ]
        default:
            return []
        }
    }

    /// Causes for invalid label keys or values.
    static func labelCauses(_ object: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        for (k, v) in object["metadata"]?["labels"]?.objectValue ?? [:] {
            if !LabelSelector.isQualifiedName(k) {
                causes.append(
                    .init(
                        type: "FieldValueInvalid",
                        message:
                            "Invalid value: \"\(k)\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                        field: "metadata.labels"))
            }
            guard let s = v.stringValue else {
                causes.append(
                    .init(
                        type: "FieldValueInvalid", message: "Invalid value: label values must be strings",
                        field: "metadata.labels"))
                continue
            }
            if !s.isEmpty, !(s.utf8.count <= 63 && isLabelValue(s)) {
                causes.append(
                    .init(
                        type: "FieldValueInvalid",
                        message:
                            "Invalid value: \"\(s)\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                        field: "metadata.labels"))
            }
        }
        return causes
    }

    private static func isLabelValue(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 65 && c <= 90) }
        guard let f = b.first, let l = b.last, alnum(f), alnum(l) else { return false }
        return b.allSatisfy { alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    enum Rule {
        case subdomain
        case label
        case dns1035
        case any
    }
}
