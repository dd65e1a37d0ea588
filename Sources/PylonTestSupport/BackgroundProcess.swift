import Foundation
import Synchronization

/// A long-running process (kubectl get -w, pylon server) whose output tests read while it runs.
///
/// Output is collected on a dedicated thread; `stop()` or `kill()` always ends it.
public final class BackgroundProcess: Sendable {
    private let process: Process
    private let output = Output()

    private final class Output: Sendable {
        let text = Mutex("")
    }

    /// Starts `program` (looked up on PATH unless absolute) with `arguments`.
    public init(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        if program.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        try process.run()
        let handle = pipe.fileHandleForReading
        let output = self.output
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                output.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    /// Everything printed so far (stdout and stderr).
    public var text: String { output.text.withLock { $0 } }

    public var processIdentifier: Int32 { process.processIdentifier }

    public var isRunning: Bool { process.isRunning }

    /// Waits until the output contains `needle`.
    public func waitFor(_ needle: String, timeout: Duration = .seconds(20)) async throws {
        try await eventually("output containing \"\(needle)\"", timeout: timeout) { self.text.contains(needle) }
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s).
    public func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        do {
            try await eventually("process exit", timeout: .seconds(10)) { !self.process.isRunning }
        } catch {
            kill()
        }
    }

    /// SIGKILL, then waits for the exit.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
