import FoundationEssentials

/// `-o json` of every command: pretty-printed, keys sorted, on standard output.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        say(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
