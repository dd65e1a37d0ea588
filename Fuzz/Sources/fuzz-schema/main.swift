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
    return 0
}

runFuzzer(fuzzSchema)
