import CLinuxNet
import FoundationEssentials

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

    /// Starts `argv` (`argv[0]` an absolute path) in a session of its own, with standard input from /dev/null,
    /// standard output and error appended to `log` (created with mode 0600), no blocked signals, and no other
    /// descriptor of this process (a daemon holding a pipe or the exit-watch socket of whoever started `pylon lab`
    /// would keep that waiting as long as the lab runs). Returns the process id.
    /// - Throws: `Failure` when the program cannot be started.
    public static func spawn(_ argv: [String], log: String) throws -> Int32 {
        let arguments = argv.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        let pid = pylon_spawn_daemon(argv[0], arguments, log)
        guard pid > 0 else {
            throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(errno)))")
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
