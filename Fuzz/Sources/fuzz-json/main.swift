import FuzzDriver
import KubeAPI

/// JSON bodies: parsing returns a value or a `JSONError`, never traps, and a value's serialization parses back to
/// a value with the same serialization (`-2.5e3` reads as a double and comes back as the integer -2500, as in Go).
/// Parsing while listing duplicate members reads the same value, and a serialization has no duplicates.
func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    var duplicates: [String] = []
    let tracked = try? JSONParser.parse(input, duplicates: &duplicates)
    guard let value = try? JSONParser.parse(input) else {
        if tracked != nil { fatalError("only the duplicate-listing parse read \(input)") }
        return 0
    }
    guard tracked == value else {
        fatalError("the duplicate-listing parse read another value: \(String(describing: tracked))")
    }
    var none: [String] = []
    _ = try? JSONParser.parse(Array(value.serialized()), duplicates: &none)
    guard none.isEmpty else { fatalError("a serialization has duplicate members \(none)") }
    let text = value.serialized()
    guard (try? JSONParser.parse(text))?.serialized() == text else {
        fatalError("JSON did not survive a round trip: \(value)")
    }
    return 0
}

runFuzzer(fuzzJSON)
