import OrderedCollections

/// The Go types behind Kubernetes' built-in kinds, as kube-apiserver's JSON decoder sees them, compiled from the
/// component schemas of Kubernetes' OpenAPI v3 documents.
///
/// A value; built once from the definitions and shared read-only. Definitions whose schema names no type (raw
/// extensions, `JSONSchemaPropsOrBool`, …) or is an object without properties (`FieldsV1`) accept any JSON, as their
/// Go types do; `IntOrString`, `Quantity`, `Time`/`MicroTime` and `[]byte` (`format: byte`) get their own rules.
public struct TypedSchema: Sendable {
    /// What a field decodes into.
    public indirect enum FieldType: Sendable, Equatable {
        case string
        case bool
        case int32
        case int64
        case float64
        /// `[]byte`: a base64 string.
        case bytes
        /// `intstr.IntOrString`: an integer or a string.
        case intOrString
        /// `resource.Quantity`: a string or number in quantity syntax.
        case quantity
        /// `metav1.Time` or `MicroTime` (named): a string.
        case time(String)
        /// Anything (raw JSON in Go).
        case any
        /// A struct: an index into `structures`.
        case structure(Int)
        case slice(FieldType)
        case map(FieldType)
    }

    /// One Go struct: its name (`ServiceSpec`), its type as Go prints it (`v1.ServiceSpec`), the component it was
    /// compiled from (`io.k8s.api.core.v1.ServiceSpec`) and its JSON fields.
    public struct Structure: Sendable {
        public var name: String
        public var goType: String
        public var definition: String
        public var fields: [String: FieldType]
    }

    public private(set) var structures: [Structure] = []
    /// The struct of each kind, keyed by `group/version/Kind` (`/v1/Service` for the core group).
    public private(set) var kinds: [String: Int] = [:]

    /// Compiles `definitions` (component name → schema, as in `components.schemas`).
    public init(definitions: JSONObject) {
        var index: [String: Int] = [:]
        for (name, schema) in definitions where Self.isStructure(schema) {
            index[name] = structures.count
            let short = name.split(separator: ".").last.map(String.init) ?? name
            structures.append(Structure(name: short, goType: Self.goName(name), definition: name, fields: [:]))
            for gvk in schema["x-kubernetes-group-version-kind"]?.arrayValue ?? [] {
                let key =
                    "\(gvk["group"]?.stringValue ?? "")/\(gvk["version"]?.stringValue ?? "")/\(gvk["kind"]?.stringValue ?? "")"
                kinds[key] = structures.count - 1
            }
        }
        for (name, schema) in definitions {
            guard let i = index[name] else { continue }
            var fields: [String: FieldType] = [:]
            for (field, property) in schema["properties"]?.objectValue ?? [:] {
                fields[field] = Self.fieldType(property, definitions: definitions, index: index)
            }
            structures[i].fields = fields
        }
    }

    /// The struct of `kind` in `group`/`version`, if the definitions have it.
    public func kind(group: String, version: String, kind: String) -> Int? {
        kinds["\(group)/\(version)/\(kind)"]
    }

    private static func isStructure(_ schema: JSON) -> Bool {
        schema["type"]?.stringValue == "object" && schema["properties"] != nil
            && schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true
    }

    private static func fieldType(_ schema: JSON, definitions: JSONObject, index: [String: Int]) -> FieldType {
        if let ref = reference(schema) {
            if let i = index[ref] { return .structure(i) }
            guard let target = definitions[ref] else { return .any }
            return fieldType(target, named: ref, definitions: definitions, index: index)
        }
        return fieldType(schema, named: nil, definitions: definitions, index: index)
    }

    private static func fieldType(_ schema: JSON, named name: String?, definitions: JSONObject, index: [String: Int])
        -> FieldType
    {
        let format = schema["format"]?.stringValue
        if format == "int-or-string" { return .intOrString }
        if let name, name.hasSuffix(".Quantity") { return .quantity }
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true { return .any }
        switch schema["type"]?.stringValue {
        case "string":
            if format == "byte" { return .bytes }
            if format == "date-time", let name { return .time(goName(name)) }
            return .string
        case "boolean": return .bool
        case "integer": return format == "int32" ? .int32 : .int64
        case "number": return .float64
        case "array":
            guard let items = schema["items"] else { return .slice(.any) }
            return .slice(fieldType(items, definitions: definitions, index: index))
        case "object":
            if let values = schema["additionalProperties"], values.objectValue != nil {
                return .map(fieldType(values, definitions: definitions, index: index))
            }
            return .any
        default:
            return .any
        }
    }

    /// The component a schema refers to: `$ref`, or the single `allOf` branch upstream wraps references in.
    private static func reference(_ schema: JSON) -> String? {
        let ref = schema["$ref"]?.stringValue ?? schema["allOf"]?.arrayValue?.first?["$ref"]?.stringValue
        return ref.map { String($0.split(separator: "/").last ?? "") }
    }

    private static func goName(_ definition: String) -> String {
        let parts = definition.split(separator: ".")
        guard parts.count > 1 else { return definition }
        return "\(parts[parts.count - 2]).\(parts[parts.count - 1])"
    }

    /// The type as Go's `reflect.Type.String()` prints it, as decode errors name it.
    public func goType(_ type: FieldType) -> String {
        switch type {
        case .string: return "string"
        case .bool: return "bool"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float64: return "float64"
        case .bytes: return "[]uint8"
        case .intOrString: return "intstr.IntOrString"
        case .quantity: return "resource.Quantity"
        case .time(let name): return name
        case .any: return "interface {}"
        case .structure(let i): return structures[i].goType
        case .slice(let element): return "[]" + goType(element)
        case .map(let value): return "map[string]" + goType(value)
        }
    }
}
