import KubeAPI
import OrderedCollections

/// The schemas of the built-in kinds: Kubernetes' own OpenAPI v3 component definitions (generated into
/// `BuiltinSchemas+Definitions.swift` by `scripts/generate-builtin-schemas`), compiled once into the typed decoder's
/// view and served, per group-version, as the OpenAPI v3 documents `kubectl explain` reads.
///
/// Static and immutable; parsed on first use.
enum BuiltinSchemas {
    /// Every definition, by component name.
    static let definitions: JSONObject = {
        do throws(JSONError) {
            return try JSONParser.parse(definitionsText).objectValue ?? [:]
        } catch {
            fatalError("the generated built-in schemas are not JSON: \(error)")
        }
    }()

    /// The Go types of the definitions.
    static let typed = TypedSchema(definitions: definitions)

    /// The typed struct of a built-in kind; `nil` for kinds without a generated schema.
    static func root(group: String, version: String, kind: String) -> Int? {
        typed.kind(group: group, version: version, kind: kind)
    }

    /// The component name of a built-in kind's schema.
    static func definitionName(group: String, version: String, kind: String) -> String? {
        root(group: group, version: version, kind: kind).map { typed.structures[$0].definition }
    }

    /// The named schemas and every schema they refer to, as `components.schemas` of one document.
    static func components(_ roots: [String]) -> JSONObject {
        var result = JSONObject()
        var pending = roots
        while let name = pending.popLast() {
            guard result[name] == nil, let schema = definitions[name] else { continue }
            result[name] = schema
            collectReferences(schema, into: &pending)
        }
        result.sort()
        return result
    }

    private static func collectReferences(_ schema: JSON, into names: inout [String]) {
        var stack = [schema]
        while let node = stack.popLast() {
            switch node {
            case .object(let object):
                for (key, value) in object {
                    if key == "$ref", let ref = value.stringValue {
                        names.append(String(ref.split(separator: "/").last ?? ""))
                    } else {
                        stack.append(value)
                    }
                }
            case .array(let array):
                stack.append(contentsOf: array)
            default:
                break
            }
        }
    }
}
