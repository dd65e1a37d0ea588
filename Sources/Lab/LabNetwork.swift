import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Builds and removes a `LabTopology` with `ip`, as root.
///
/// Isolation: methods block on child processes; call them from a thread of their own or a test, never from the
/// cooperative pool of a running daemon. Errors name the `ip` command that failed and its stderr; a failed
/// set-up removes what it created before throwing.
public struct LabNetwork: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let topology: LabTopology
    private let ip: String

    public init(topology: LabTopology, ip: String = "/usr/sbin/ip") {
        self.topology = topology
        self.ip = ip
    }

    /// Creates every namespace, link and address, then runs `additional` `ip` commands (e.g.
    /// `nodeSetUpCommands`); on failure removes everything again and throws.
    public func up(additional: [[String]] = []) throws {
        do {
            for command in topology.setUpCommands() + additional { try run(command) }
        } catch {
            down()
            throw error
        }
    }

    /// Removes the lab; namespaces already gone are fine.
    public func down() {
        let existing = Set(Self.namespaces(ip: ip))
        for command in topology.tearDownCommands() where existing.contains(command[2]) { try? run(command) }
    }

    /// Runs `argv` inside the namespace of `host`; returns its exit status and standard output.
    public func exec(_ host: String, _ argv: [String]) throws -> (status: Int32, output: String) {
        try Self.process(ip, ["netns", "exec", topology.namespace(of: host)] + argv)
    }

    /// Runs `argv` inside the switch namespace (whose bridge ports are named after the hosts: a frame sent on one
    /// goes straight down that host's cable, past the bridge).
    public func execInSwitch(_ argv: [String]) throws -> (status: Int32, output: String) {
        try Self.process(ip, ["netns", "exec", topology.switchNamespace] + argv)
    }

    /// Removes namespaces named `<prefixFamily>…` that are older than `age` (leftovers of crashed runs).
    public static func sweep(prefixFamily: String, olderThan age: TimeInterval, ip: String = "/usr/sbin/ip") {
        for name in namespaces(ip: ip) where name.hasPrefix(prefixFamily) {
            let path = "/run/netns/" + name
            let created = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
            guard let created, Date().timeIntervalSince(created) > age else { continue }
            // Processes left inside (a crashed test's daemons) would keep the namespace's links alive.
            if let (_, pids) = try? process(ip, ["netns", "pids", name]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? process(ip, ["netns", "delete", name])
        }
    }

    /// Names of the network namespaces that exist now.
    public static func namespaces(ip: String = "/usr/sbin/ip") -> [String] {
        guard let (status, output) = try? process(ip, ["netns", "list"]), status == 0 else { return [] }
        return output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    private func run(_ argv: [String]) throws {
        let (status, output) = try Self.process(ip, argv, captureError: true)
        guard status == 0 else {
            throw Failure(description: "ip \(argv.joined(separator: " ")) failed (\(status)): \(output)")
        }
    }

    /// Runs `executable` (an absolute path) to completion; returns its exit status (the signal's number if a signal
    /// ended it) and standard output (and error with `captureError`; otherwise error goes to /dev/null).
    /// - Throws: `Failure` when the program cannot be started.
    public static func process(_ executable: String, _ arguments: [String], captureError: Bool = false) throws -> (
        Int32, String
    ) {
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else {
            throw Failure(description: "cannot run \(executable): pipe: \(String(cString: strerror(errno)))")
        }
        // Only the child's standard output and error may hold the pipe.
        for end in pipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        if captureError {
            posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // A clean signal state: nothing blocked, every signal's default action (this process may block or ignore
        // some for its own handling).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(pipe[1])
        guard spawned == 0 else {
            close(pipe[0])
            throw Failure(description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(pipe[0], &buffer, buffer.count)
            if count > 0 {
                output += buffer[0..<count]
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(pipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return (signal == 0 ? (status >> 8) & 0xff : signal, String(decoding: output, as: UTF8.self))
    }
}
