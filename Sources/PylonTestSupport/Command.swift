import Foundation
import Lab

/// The outcome of a finished process.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs external programs (kubectl, python3) for tests, found on `PATH`.
public enum Command {
    /// Runs `program` with `arguments` to completion, feeding `input` on standard input.
    /// Environment variables in `environment` are added to the current environment.
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) async throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        // Blocking reads and waits run on their own threads: the cooperative pool has only as many threads as
        // cores, and an in-process server under test needs them.
        async let stdout = BlockingWork.run { out.fileHandleForReading.readDataToEndOfFile() }
        async let stderr = BlockingWork.run { err.fileHandleForReading.readDataToEndOfFile() }
        let (o, e) = await (stdout, stderr)
        await BlockingWork.run { process.waitUntilExit() }
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }
}
