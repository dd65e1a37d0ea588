import Glibc

extension CNIPlugin {
    /// Runs the process's invocation: the environment and standard input in, the answer on standard output.
    /// - Returns: the exit status (0, or 1 after an error document).
    public static func runProcess() -> Int32 {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Bounded: a configuration larger than 16 MB is not one.
        while input.count < 16 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            input += buffer[..<count]
        }
        let outcome = run(environment: environment, input: input)
        var output = Array(outcome.output.utf8)
        if !output.isEmpty { output.append(0x0A) }
        var offset = 0
        while offset < output.count {
            let written = output[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        return outcome.exitStatus
    }
}
