import FuzzDriver
import KubeAPI

/// Custom objects checked against CRD schemas, both chosen by the input (schema JSON, a NUL byte, object JSON):
/// validation ends in bounded time whatever the schema's patterns and the object's strings, never traps, and is
/// idempotent: the defaulted, pruned object it returns validates to itself with nothing left to prune.
func fuzzSchema(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let split = input.firstIndex(of: 0), let schema = try? JSONParser.parse(input[..<split]),
        let object = try? JSONParser.parse(input[(split + 1)...])
    else { return 0 }
    let validator = SchemaValidator(schema: schema)
    let first = validator.validate(object)
    let second = validator.validate(first.object)
    guard second.object == first.object, second.unknownFields.isEmpty else {
        fatalError(
            "validation is not idempotent:\n  first:  \(first.object) \(first.unknownFields)\n"
                + "  second: \(second.object) \(second.unknownFields)")
    }
    typedDecodingIsIdempotent(definitions: schema, object: object)
    return 0
}

/// The same input read as built-in definitions (`components.schemas`) and an object: the typed decode never traps,
/// and the object it returns decodes again to itself with no unknown field (or the same type error).
func typedDecodingIsIdempotent(definitions: JSON, object: JSON) {
    guard let definitions = definitions.objectValue else { return }
    let typed = TypedSchema(definitions: definitions)
    for root in typed.structures.indices.prefix(8) {
        let first = TypedDecoder.decode(object, root: root, schema: typed)
        let second = TypedDecoder.decode(first.object, root: root, schema: typed)
        guard second.object == first.object, second.unknownFields.isEmpty, second.typeError == first.typeError else {
            fatalError("typed decoding is not idempotent: \(first.object) then \(second.object)")
        }
    }
}

runFuzzer(fuzzSchema)
