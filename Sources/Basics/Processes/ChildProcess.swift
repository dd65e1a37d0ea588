import CLinuxNet

#if canImport(Glibc)
    import Glibc
#endif

/// Pylon's one way to start other programs (`ip`, `kubectl`, routers, its own daemons): `posix_spawn` with no
/// descriptor of this process inherited beyond the three standard ones, no blocked signals and default signal
/// dispositions (this process may block or ignore some for its own handling).
///
/// Isolation: `run` and the daemon calls block the calling thread; from async code use the `async` `run`, which
/// waits on a thread of its own (`BlockingWork`), never on the cooperative pool. Errors are `Failure`, naming the
/// program and the system's reason.
public enum ChildProcess {
    /// A program could not be started, or a pipe to it could not be made.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String

        public init(_ description: String) { self.description = description }
    }

    /// Where the child's standard error goes.
    public enum StandardError: Sendable {
        /// Collected apart from standard output (`ProcessOutput.standardError`).
        case separate
        /// Into standard output, interleaved as written.
        case merged
        /// To /dev/null.
        case discarded
    }

    /// Runs `program` (an absolute path, or a name looked up on PATH) with `arguments` to its end: feeds `input` on
    /// standard input (/dev/null when nil), collects standard output and error, and waits for the exit.
    /// `environment` is added to this process's environment.
    /// - Throws: `Failure` when the program cannot be started.
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        standardError: StandardError = .separate
    ) throws(Failure) -> ProcessOutput {
        // Standard input is a socket so that writing to a child that stopped reading fails with EPIPE
        // (MSG_NOSIGNAL) instead of raising SIGPIPE in this process.
        var inputPair: [Int32] = [-1, -1]
        if input != nil, socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &inputPair) != 0 {
            throw Failure("cannot run \(program): socketpair: \(lastError())")
        }
        var outputPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        guard pylon_pipe(&outputPipe) == 0,
            standardError != .separate || pylon_pipe(&errorPipe) == 0
        else {
            let reason = lastError()
            for fd in inputPair + outputPipe where fd >= 0 { close(fd) }
            throw Failure("cannot run \(program): pipe: \(reason)")
        }
        var options = pylon_spawn_options(
            stdin_fd: inputPair[1], stdout_fd: outputPipe[1],
            stderr_fd: standardError == .merged ? -2 : errorPipe[1], log: nil, new_session: 0,
            search_path: program.contains("/") ? 0 : 1)
        let spawned = spawn([program] + arguments, environment: environment, options: &options)
        for fd in [inputPair[1], outputPipe[1], errorPipe[1]] where fd >= 0 { close(fd) }
        let pid: pid_t
        switch spawned {
        case .success(let started): pid = started
        case .failure(let failure):
            for fd in [inputPair[0], outputPipe[0], errorPipe[0]] where fd >= 0 { close(fd) }
            throw failure
        }
        let (output, error) = exchange(
            input: inputPair[0] >= 0 ? (inputPair[0], Array((input ?? "").utf8)) : nil, output: outputPipe[0],
            error: errorPipe[0] >= 0 ? errorPipe[0] : nil)
        return ProcessOutput(
            termination: waitForExit(pid), standardOutput: String(decoding: output, as: UTF8.self),
            standardError: String(decoding: error, as: UTF8.self))
    }

    /// `run` on a thread of its own, so that the cooperative pool is never blocked by a child process.
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        standardError: StandardError = .separate
    ) async throws(Failure) -> ProcessOutput {
        let result = await BlockingWork.run { () -> Result<ProcessOutput, Failure> in
            do throws(Failure) {
                return .success(
                    try run(
                        program, arguments, environment: environment, input: input, standardError: standardError))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Spawns `argv` with `options`; the environment is this process's plus `environment`.
    static func spawn(
        _ argv: [String], environment: [String: String], options: inout pylon_spawn_options
    ) -> Result<pid_t, Failure> {
        let arguments = argv.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        let variables = mergedEnvironment(environment).map { strdup($0) } + [nil]
        defer { for variable in variables { free(variable) } }
        let pid = pylon_spawn(argv[0], arguments, variables, &options)
        guard pid > 0 else { return .failure(Failure("cannot run \(argv[0]): \(lastError())")) }
        return .success(pid)
    }

    /// This process's environment as `NAME=value` strings, with `overrides` replacing or adding variables.
    static func mergedEnvironment(_ overrides: [String: String]) -> [String] {
        var out: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
            if overrides[name] == nil { out.append(text) }
            pointer += 1
        }
        return out + overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    /// Writes `input` (then closes it) and reads `output` and `error` to their ends, all at once with `poll`, so a
    /// child that fills one pipe while this side waits on another never deadlocks. Closes every descriptor.
    private static func exchange(input: (fd: Int32, bytes: [UInt8])?, output: Int32, error: Int32?) -> (
        [UInt8], [UInt8]
    ) {
        var inputFD = input?.fd ?? -1
        var written = 0
        var open: [Int32: [UInt8]] = [output: []]
        if let error { open[error] = [] }
        var collected: [Int32: [UInt8]] = [:]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        if inputFD >= 0, input?.bytes.isEmpty ?? true {
            close(inputFD)
            inputFD = -1
        }
        while !open.isEmpty || inputFD >= 0 {
            var fds = open.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if inputFD >= 0 { fds.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == inputFD, let bytes = input?.bytes {
                    let sent = bytes[written...].withUnsafeBytes {
                        send(inputFD, $0.baseAddress, min($0.count, 65_536), Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    }
                    if sent > 0 { written += sent }
                    if (sent < 0 && errno != EAGAIN && errno != EINTR) || written == bytes.count {
                        close(inputFD)
                        inputFD = -1
                    }
                    continue
                }
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    open[entry.fd]! += buffer[0..<count]
                } else if count == 0 || errno != EINTR {
                    collected[entry.fd] = open.removeValue(forKey: entry.fd)
                    close(entry.fd)
                }
            }
        }
        for fd in open.keys { close(fd) }
        if inputFD >= 0 { close(inputFD) }
        return (collected[output] ?? open[output] ?? [], error.map { collected[$0] ?? open[$0] ?? [] } ?? [])
    }

    /// Waits for `pid` to end (retrying on EINTR) and reaps it.
    static func waitForExit(_ pid: pid_t) -> ProcessOutput.Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return .exited(127) }
        }
        return ProcessOutput.termination(waitStatus: status)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
