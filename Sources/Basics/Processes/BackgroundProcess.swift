import CLinuxNet
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running child process (a router, `kubectl get -w`, `pylon server`, `tcpdump`) whose output — standard
/// output and error together — is collected while it runs.
///
/// Thread-safe. Output is read on a thread of its own; `stop()` or `kill()` always ends the process and reaps it.
/// Starting fails with `ChildProcess.Failure`.
public final class BackgroundProcess: Sendable {
    private struct State {
        var output = ""
        var termination: ProcessOutput.Termination?
    }

    /// The state the output thread shares with this object.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    /// The process id.
    public let processIdentifier: Int32
    private let shared = Shared()

    /// Starts `program` (an absolute path, or a name looked up on PATH) with `arguments`; `environment` is added to
    /// this process's environment. Standard input is /dev/null.
    /// - Throws: `ChildProcess.Failure` when the program cannot be started.
    public init(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws(ChildProcess
        .Failure)
    {
        var pipe: [Int32] = [-1, -1]
        guard pylon_pipe(&pipe) == 0 else {
            throw ChildProcess.Failure("cannot run \(program): pipe: \(ChildProcess.lastError())")
        }
        var options = pylon_spawn_options(
            stdin_fd: -1, stdout_fd: pipe[1], stderr_fd: -2, log: nil, new_session: 0,
            search_path: program.contains("/") ? 0 : 1)
        let spawned = ChildProcess.spawn([program] + arguments, environment: environment, options: &options)
        close(pipe[1])
        switch spawned {
        case .success(let pid): processIdentifier = pid
        case .failure(let failure):
            close(pipe[0])
            throw failure
        }
        let reading = pipe[0]
        let shared = self.shared
        BlockingWork.detach {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(reading, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                shared.state.withLock { $0.output += text }
            }
            close(reading)
        }
    }

    /// Everything printed so far (standard output and error).
    public var text: String { shared.state.withLock { $0.output } }

    /// Whether the process has not exited yet (an exited one is reaped here).
    public var isRunning: Bool {
        shared.state.withLock { state in
            guard state.termination == nil else { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            state.termination = ProcessOutput.termination(waitStatus: status)
            return false
        }
    }

    /// How the process ended; nil while it runs.
    public var termination: ProcessOutput.Termination? {
        _ = isRunning
        return shared.state.withLock { $0.termination }
    }

    /// SIGTERM, then waits up to `grace` for the exit, then SIGKILL; returns once the process is gone. Blocks the
    /// calling thread (in async code use `stop()`).
    public func terminate(grace: Duration = .seconds(10)) {
        guard isRunning else { return }
        Glibc.kill(processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        kill()
    }

    /// `terminate()` on a thread of its own.
    public func stop() async {
        await BlockingWork.run { self.terminate() }
    }

    /// SIGKILL, then waits for the exit.
    public func kill() {
        guard isRunning else { return }
        Glibc.kill(processIdentifier, SIGKILL)
        shared.state.withLock { state in
            guard state.termination == nil else { return }
            state.termination = ChildProcess.waitForExit(processIdentifier)
        }
    }
}
