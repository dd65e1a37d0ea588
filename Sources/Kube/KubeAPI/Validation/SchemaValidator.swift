import OrderedCollections

/// Validates a custom object against its CRD's structural OpenAPI v3 schema, applies schema defaults, and prunes
/// fields the schema does not declare.
///
/// Pure. Checks: `type` (with `nullable`), `required`, `enum`, `minimum`/`maximum` (and exclusive forms),
/// `minLength`/`maxLength`, `minItems`/`maxItems`, `pattern`, `properties`, `additionalProperties`, `items`,
/// `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-embedded-resource`.
/// Patterns are RE2 expressions as in kube-apiserver, matched by `LinearRegex` in linear time within
/// `patternBudget` (per object); recursion follows the object, whose depth the JSON reader bounds (512).
public struct SchemaValidator: Sendable {
    /// The outcome: the defaulted and pruned object, the field errors, and the pruned (unknown) field paths.
    public struct Outcome: Sendable {
        public var object: JSON
        public var causes: [Status.Cause] = []
        public var unknownFields: [String] = []
        /// Each pattern compiled once per validation (`nil`: not a regular expression, so not checked).
        private var patterns: [String: LinearRegex?] = [:]
        /// What is left of the validator's pattern budget.
        var patternBudget: Int

        init(object: JSON, patternBudget: Int) {
            self.object = object
            self.patternBudget = patternBudget
        }

        mutating func compiled(_ pattern: String) -> LinearRegex? {
            if let known = patterns[pattern] { return known }
            let regex = try? LinearRegex(pattern)
            patterns[pattern] = regex
            return regex
        }
    }

    /// The most matching work one object's strings may cost against `pattern`s, all together (thread steps of
    /// `LinearRegex`): a name against a typical pattern takes a few thousand; a megabyte against `^[a-z0-9.-]*$`
    /// about three million.
    public static let defaultPatternBudget = 20_000_000

    public let schema: JSON
    public let patternBudget: Int

    public init(schema: JSON, patternBudget: Int = SchemaValidator.defaultPatternBudget) {
        self.schema = schema
        self.patternBudget = patternBudget
    }

    public func validate(_ object: JSON) -> Outcome {
        var outcome = Outcome(object: object, patternBudget: patternBudget)
        var root = object
        // apiVersion, kind and metadata are the server's business, never pruned.
        let metadata = root["metadata"]
        let apiVersion = root["apiVersion"]
        let kind = root["kind"]
        root["metadata"] = nil
        root["apiVersion"] = nil
        root["kind"] = nil
        var rootSchema = schema
        rootSchema["properties"]?["metadata"] = nil
        rootSchema["properties"]?["apiVersion"] = nil
        rootSchema["properties"]?["kind"] = nil
        if var required = rootSchema["required"]?.arrayValue {
            required.removeAll { ["metadata", "apiVersion", "kind"].contains($0.stringValue ?? "") }
            rootSchema["required"] = .array(required)
        }
        var value = root
        walk(&value, rootSchema, path: "", outcome: &outcome)
        var result = value
        result["apiVersion"] = apiVersion
        result["kind"] = kind
        result["metadata"] = metadata
        // Keep apiVersion, kind, metadata first, as clients expect.
        if case .object(let o) = result {
            var ordered = JSONObject()
            for k in ["apiVersion", "kind", "metadata"] where o[k] != nil { ordered[k] = o[k] }
            for (k, v) in o where ordered[k] == nil { ordered[k] = v }
            result = .object(ordered)
        }
        outcome.object = result
        return outcome
    }

    /// Every `pattern` of `schema` that is not an RE2 expression, as kube-apiserver refuses a CRD for:
    /// `(path, message)` with the path in its form (`properties[spec].properties[name].pattern`, after `prefix`).
    /// Follows `properties`, `items`, `additionalProperties`, `allOf`/`anyOf`/`oneOf`/`not` with an explicit stack.
    public static func patternErrors(in schema: JSON, prefix: String) -> [(path: String, message: String)] {
        var errors: [(path: String, message: String)] = []
        var pending: [(JSON, String)] = [(schema, prefix)]
        while let (node, path) = pending.popLast() {
            guard case .object(let fields) = node else { continue }
            if let pattern = fields["pattern"]?.stringValue {
                do throws(LinearRegex.SyntaxError) {
                    _ = try LinearRegex(pattern)
                } catch {
                    errors.append(
                        (
                            path + ".pattern",
                            "Invalid value: \"\(pattern)\": must be a valid regular expression, but isn't: "
                                + "error parsing regexp: \(error)"
                        ))
                }
            }
            for (name, property) in fields["properties"]?.objectValue ?? [:] {
                pending.append((property, "\(path).properties[\(name)]"))
            }
            for key in ["items", "additionalProperties", "not"] where fields[key]?.objectValue != nil {
                pending.append((fields[key]!, "\(path).\(key)"))
            }
            for key in ["allOf", "anyOf", "oneOf"] {
                for (i, branch) in (fields[key]?.arrayValue ?? []).enumerated() {
                    pending.append((branch, "\(path).\(key)[\(i)]"))
                }
            }
        }
        return errors.sorted { $0.path < $1.path }
    }

    private func child(_ path: String, _ name: String) -> String {
        path.isEmpty ? name : "\(path).\(name)"
    }

    private func fail(_ outcome: inout Outcome, _ path: String, _ type: String, _ message: String) {
        outcome.causes.append(.init(type: type, message: message, field: path))
    }

    private func walk(_ value: inout JSON, _ schema: JSON, path: String, outcome: inout Outcome) {
        if value.isNull {
            if schema["nullable"]?.boolValue == true { return }
            if path.isEmpty { return }
            // A null for a non-nullable field is pruned, as the apiserver does before validation.
            value = .null
            return
        }
        let intOrString = schema["x-kubernetes-int-or-string"]?.boolValue == true
        if let type = schema["type"]?.stringValue, !intOrString {
            let actual = value.typeName
            let ok = type == actual || (type == "number" && actual == "integer")
            if !ok {
                fail(
                    &outcome, path, "FieldValueTypeInvalid",
                    "Invalid value: \"\(actual)\": \(path) in body must be of type \(type): \"\(actual)\"")
                return
            }
        } else if intOrString, value.stringValue == nil, value.intValue == nil {
            fail(
                &outcome, path, "FieldValueTypeInvalid",
                "Invalid value: \"\(value.typeName)\": \(path) in body must be of type integer-or-string: \"\(value.typeName)\""
            )
            return
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            let list = options.map { $0.text() }.joined(separator: ", ")
            fail(
                &outcome, path, "FieldValueNotSupported",
                "Unsupported value: \(value.text()): supported values: \(list)")
        }
        switch value {
        case .object(var object):
            walkObject(&object, schema, path: path, outcome: &outcome)
            value = .object(object)
        case .array(var array):
            if let min = schema["minItems"]?.intValue, array.count < min {
                fail(
                    &outcome, path, "FieldValueInvalid",
                    "Invalid value: \(array.count): \(path) in body should have at least \(min) items")
            }
            if let max = schema["maxItems"]?.intValue, array.count > max {
                fail(&outcome, path, "FieldValueTooMany", "Too many: \(array.count): must have at most \(max) items")
            }
            if let items = schema["items"] {
                for i in array.indices {
                    walk(&array[i], items, path: "\(path)[\(i)]", outcome: &outcome)
                }
                array.removeAll { $0.isNull && items["nullable"]?.boolValue != true }
            }
            value = .array(array)
        case .string(let s):
            let length = s.unicodeScalars.count  // runes, as kube-openapi counts
            if let min = schema["minLength"]?.intValue, length < min {
                fail(
                    &outcome, path, "FieldValueInvalid",
                    "Invalid value: \"\(s)\": \(path) in body should be at least \(min) chars long")
            }
            if let max = schema["maxLength"]?.intValue, length > max {
                fail(&outcome, path, "FieldValueTooLong", "Too long: may not be more than \(max) bytes")
            }
            if let pattern = schema["pattern"]?.stringValue, let regex = outcome.compiled(pattern) {
                switch regex.matches(s, budget: &outcome.patternBudget) {
                case true?:
                    break
                case false?:
                    fail(
                        &outcome, path, "FieldValueInvalid",
                        "Invalid value: \"\(s)\": \(path) in body should match '\(pattern)'")
                case nil:
                    fail(
                        &outcome, path, "FieldValueInvalid",
                        "Invalid value: \(path) in body is too long to be checked against '\(pattern)'")
                }
            }
        case .int, .double:
            let d = value.doubleValue!
            if let min = schema["minimum"]?.doubleValue {
                let exclusive = schema["exclusiveMinimum"]?.boolValue == true
                if exclusive ? d <= min : d < min {
                    fail(
                        &outcome, path, "FieldValueInvalid",
                        "Invalid value: \(value.text()): \(path) in body should be greater than \(exclusive ? "" : "or equal to ")\(schema["minimum"]!.text())"
                    )
                }
            }
            if let max = schema["maximum"]?.doubleValue {
                let exclusive = schema["exclusiveMaximum"]?.boolValue == true
                if exclusive ? d >= max : d > max {
                    fail(
                        &outcome, path, "FieldValueInvalid",
                        "Invalid value: \(value.text()): \(path) in body should be less than \(exclusive ? "" : "or equal to ")\(schema["maximum"]!.text())"
                    )
                }
            }
        default:
            break
        }
    }

    private func walkObject(_ object: inout JSONObject, _ schema: JSON, path: String, outcome: inout Outcome) {
        let properties = schema["properties"]?.objectValue
        let additional = schema["additionalProperties"]
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        // Defaults first, so required checks see them.
        for (name, propertySchema) in properties ?? [:] where object[name] == nil {
            if let d = propertySchema["default"] { object[name] = d }
        }
        for (name, _) in object {
            let fieldPath = child(path, name)
            if let propertySchema = properties?[name] {
                walk(&object[name]!, propertySchema, path: fieldPath, outcome: &outcome)
                if object[name]?.isNull == true, propertySchema["nullable"]?.boolValue != true { object[name] = nil }
            } else if case .object = additional ?? .null {
                walk(&object[name]!, additional!, path: fieldPath, outcome: &outcome)
            } else if additional?.boolValue == true || preserve {
                continue
            } else if properties != nil || schema["type"]?.stringValue == "object" {
                outcome.unknownFields.append(fieldPath)
                object[name] = nil
            }
        }
        if schema["x-kubernetes-embedded-resource"]?.boolValue == true {
            for field in ["apiVersion", "kind"] where object[field]?.stringValue?.isEmpty ?? true {
                fail(&outcome, child(path, field), "FieldValueRequired", "Required value: must not be empty")
            }
        }
        for required in schema["required"]?.arrayValue ?? [] {
            guard let name = required.stringValue else { continue }
            if object[name] == nil {
                fail(&outcome, child(path, name), "FieldValueRequired", "Required value")
            }
        }
    }
}
