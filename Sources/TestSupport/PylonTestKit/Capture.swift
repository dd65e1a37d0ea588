import Foundation

/// One message a real peer put on the wire, as `scripts/capture-frames` wrote it: hex bytes, with `#` comment lines
/// saying what it is and which versions sent it.
public struct Capture: Sendable {
    /// The file's name without `.hex`.
    public let name: String
    public let bytes: [UInt8]
    /// The comment lines, without their `# `.
    public let notes: [String]

    /// Reads `name.hex` from the `Captures` folder beside `testFile` (pass `#filePath`).
    /// - Throws: `TestFailure` when the file is missing or holds something other than hex bytes.
    public init(_ name: String, besides testFile: String = #filePath) throws {
        let url = URL(fileURLWithPath: testFile).deletingLastPathComponent()
            .appendingPathComponent("Captures").appendingPathComponent(name + ".hex")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TestFailure("no capture \(url.path): run scripts/capture-frames")
        }
        var bytes: [UInt8] = []
        var notes: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                notes.append(String(line.dropFirst(2)))
                continue
            }
            for word in line.split(separator: " ") {
                guard word.count == 2, let byte = UInt8(word, radix: 16) else {
                    throw TestFailure("\(url.path): \"\(word)\" is not a hex byte")
                }
                bytes.append(byte)
            }
        }
        self.name = name
        self.bytes = bytes
        self.notes = notes
    }
}
