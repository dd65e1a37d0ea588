import CLinuxNet

#if canImport(Glibc)
    import Glibc
#endif

/// Daemons (the lab's API server, controller, speakers, node agents): started in a session of their own, so they
/// outlive whoever started them and are not hit by a terminal's Ctrl-C, with their output appended to a log file;
/// later found, stopped or crashed by process id.
extension ChildProcess {
    /// Starts `argv` (`argv[0]` an absolute path) in a session of its own, with standard input from /dev/null and
    /// standard output and error appended to `log` (created with mode 0600). Returns the process id.
    /// - Throws: `Failure` when the program cannot be started.
    public static func spawnDaemon(_ argv: [String], log: String) throws(Failure) -> Int32 {
        try log.withCString { path in
            var options = pylon_spawn_options(
                stdin_fd: -1, stdout_fd: -1, stderr_fd: -1, log: path, new_session: 1, search_path: 0)
            return spawn(argv, environment: [:], options: &options)
        }.get()
    }

    /// Whether `pid` is a live process whose command line contains `marker` (so that a recycled pid never gets
    /// signalled). A child of this process that has exited is reaped here.
    public static func isRunning(_ pid: Int32, marker: String) -> Bool {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        // The command line is empty for a zombie (exited, not yet reaped by another parent) and, for a moment, for
        // a process in the middle of `execve` (a daemon spawned a moment ago): then it is read again, for at most
        // 100 ms, until the process shows its new command line or turns out to be a zombie.
        for _ in 0..<100 {
            guard let commandLine = commandLine(of: pid) else { return false }
            if !commandLine.isEmpty { return commandLine.contains(marker) }
            if isZombie(pid) { return false }
            usleep(1_000)
        }
        return false
    }

    /// How a daemon started by this process ended, reaping it; nil while it runs (or when `pid` is not a child of
    /// this process). Does not block.
    public static func exitStatus(ofChild pid: Int32) -> ProcessOutput.Termination? {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return ProcessOutput.termination(waitStatus: status) }
            if reaped < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// SIGTERM, then SIGKILL when `pid` has not exited after `grace`; returns once it is gone. Does nothing when
    /// `pid` is not running `marker`.
    public static func stop(_ pid: Int32, marker: String, grace: Duration = .seconds(5)) {
        guard isRunning(pid, marker: marker) else { return }
        kill(pid, SIGTERM)
        if waitUntilGone(pid, marker: marker, within: grace) { return }
        kill(pid, SIGKILL)
        _ = waitUntilGone(pid, marker: marker, within: .seconds(5))
    }

    /// SIGKILL at once (a crash, for failover drills); returns once `pid` is gone.
    public static func crash(_ pid: Int32, marker: String) {
        guard isRunning(pid, marker: marker) else { return }
        kill(pid, SIGKILL)
        _ = waitUntilGone(pid, marker: marker, within: .seconds(5))
    }

    /// Sends `signal` to every process in the network namespace `namespace` (`ip netns pids`): what a crashed run
    /// left inside would keep the namespace's links alive.
    public static func killAll(inNamespace namespace: String, ip: String = "/usr/sbin/ip", signal: Int32 = SIGKILL) {
        guard let listed = try? run(ip, ["netns", "pids", namespace], standardError: .discarded) else { return }
        for pid in listed.standardOutput.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, signal) }
    }

    /// The command line of `pid` with its NUL separators as spaces; nil when the process does not exist.
    static func commandLine(of pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Bounded: a command line longer than 1 MiB is read as far as that.
        while bytes.count < 1 << 20 {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// Whether `pid` has exited and waits to be reaped (state Z or X in `/proc/<pid>/stat`); false when it does not
    /// exist.
    static func isZombie(_ pid: Int32) -> Bool {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return false }
        // `pid (comm) S …`: the state follows the last ')' (a command name may itself hold parentheses).
        guard let end = buffer[0..<count].lastIndex(of: UInt8(ascii: ")")), end + 2 < count else { return false }
        return [UInt8(ascii: "Z"), UInt8(ascii: "X")].contains(buffer[end + 2])
    }

    private static func waitUntilGone(_ pid: Int32, marker: String, within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if !isRunning(pid, marker: marker) { return true }
            usleep(10_000)
        }
        return !isRunning(pid, marker: marker)
    }
}
