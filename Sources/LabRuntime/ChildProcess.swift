import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The lab's daemons (API server, controller, speakers, node agents): each started in a session of its own, so it
/// outlives `pylon lab up --detach` and is not hit by the terminal's Ctrl-C, with its output appended to a log file.
///
/// Isolation: plain blocking calls; call them from a thread or task that may block briefly (`stop` polls for up to
/// its grace period). Errors name the program and the system's reason.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension the Glibc module does not import).
    private static let spawnSetSID: Int32 = 0x80

    /// Starts `argv` (`argv[0]` an absolute path) with standard input from /dev/null and standard output and error
    /// appended to `log` (created with mode 0600). Returns the process id.
    /// - Throws: `Failure` when the program cannot be started.
    public static func spawn(_ argv: [String], log: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session, no blocked signals, default dispositions (the parent may ignore SIGINT while it waits).
        posix_spawnattr_setflags(
            &attributes, Int16(spawnSetSID | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)))
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)
        let arguments = argv.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, &attributes, arguments, environ)
        guard status == 0 else {
            throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Whether `pid` is a live process whose command line contains `marker` (so that a recycled pid never gets
    /// signalled). A child of this process that has exited is reaped here.
    public static func isRunning(_ pid: Int32, marker: String) -> Bool {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        // A zombie (exited, not yet reaped by another parent) has an empty command line.
        return !commandLine.isEmpty && commandLine.contains(marker)
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

    private static func waitUntilGone(_ pid: Int32, marker: String, within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if !isRunning(pid, marker: marker) { return true }
            usleep(10_000)
        }
        return !isRunning(pid, marker: marker)
    }
}
