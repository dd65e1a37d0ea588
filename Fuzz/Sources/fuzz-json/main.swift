import FuzzDriver
import KubeAPI

/// JSON bodies: parsing returns a value or a `JSONError`, never traps, and a value's serialization parses back to
/// a value with the same serialization (`-2.5e3` reads as a double and comes back as the integer -2500, as in Go).
func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    guard let value = try? JSONParser.parse(input) else { return 0 }
    let text = value.serialized()
    guard (try? JSONParser.parse(text))?.serialized() == text else {
        fatalError("JSON did not survive a round trip: \(value)")
    }
    return 0
}

runFuzzer(fuzzJSON)
