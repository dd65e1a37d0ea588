import FuzzDriver
import KubeAPI

/// CRD `pattern`s and the strings checked against them (pattern, a NUL byte, text): compiling gives a program or a
/// `SyntaxError`, matching ends in linear time, nothing traps; and a pattern means the same inside a group.
func fuzzRegex(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let split = input.firstIndex(of: 0) ?? input.endIndex
    let pattern = String(decoding: input[..<split], as: UTF8.self)
    let text = split < input.endIndex ? String(decoding: input[(split + 1)...], as: UTF8.self) : ""
    guard let regex = try? LinearRegex(pattern) else { return 0 }
    let matched = regex.matches(text)
    if let grouped = try? LinearRegex("(?:" + pattern + ")"), grouped.matches(text) != matched {
        fatalError("\(pattern.debugDescription) and the same in a group disagree on \(text.debugDescription)")
    }
    return 0
}

runFuzzer(fuzzRegex)
