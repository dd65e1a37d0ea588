import CNI
import Glibc
import KubeAPI
import NetCore

/// host-local's on-disk store, shared with the reference plugin: in `<dataDir>/<network>`, one file per address
/// named after it and holding `<containerID>\r\n<ifname>`, `last_reserved_ip.<range set>` with the last address
/// handed out from each range set, and a file named `lock` that every writer holds with `flock` — so Pylon and
/// host-local can take turns on one node without losing or doubling an address.
///
/// One difference makes the store crash-safe: an address file is written whole under a temporary name and then
/// linked into place (`link(2)` fails when the address is taken), so a plugin killed mid-write never leaves an
/// address file without an owner. Leftover temporary files are removed by `collectGarbage`.
///
/// Isolation: blocking file I/O; the lock serialises every process using the store, `locked` holds it.
final class HostLocalStore {
    let directory: String
    private let lockDescriptor: Int32

    /// The store of `network` under `dataDirectory`, created (mode 0755) when missing.
    /// - Throws: `CNIError.ioFailure` naming the path when it cannot be created or its lock file opened.
    init(network: String, dataDirectory: String) throws(CNIError) {
        directory = dataDirectory + "/" + network
        try Self.makeDirectories(directory)
        lockDescriptor = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw Self.failure("open \(directory)/lock") }
    }

    deinit { close(lockDescriptor) }

    /// Runs `body` holding the store's lock (waiting for other holders).
    @discardableResult
    func locked<T>(_ body: () throws(CNIError) -> T) throws(CNIError) -> T {
        while flock(lockDescriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Self.failure("lock \(directory)/lock") }
        }
        defer { flock(lockDescriptor, LOCK_UN) }
        return try body()
    }

    /// Records `ip` for the attachment, unless another holds it. Call with the lock held.
    /// - Returns: false when the address is taken.
    /// - Throws: `CNIError.ioFailure` when the files cannot be written.
    func reserve(_ ip: IPAddress, containerID: String, interfaceName: String, rangeSet: Int) throws(CNIError) -> Bool {
        let path = directory + "/" + ip.description
        let temporary = "\(directory)/.reserving-\(getpid())-\(ip)"
        try Self.writeFile(temporary, Array("\(containerID.trimmed())\r\n\(interfaceName)".utf8), exclusive: false)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw Self.failure("link \(path)")
        }
        try Self.writeFile("\(directory)/last_reserved_ip.\(rangeSet)", Array(ip.description.utf8), exclusive: false)
        return true
    }

    /// The last address handed out from range set `rangeSet`, if recorded.
    func lastReserved(rangeSet: Int) -> IPAddress? {
        Self.readFile("\(directory)/last_reserved_ip.\(rangeSet)").flatMap { IPAddress($0.trimmed()) }
    }

    /// Every address file: the address and the owner it records (`containerID`, `ifname`; ifname empty for files of
    /// host-local's older format, and both empty for a file its writer never finished).
    func allocations() -> [(ip: IPAddress, containerID: String, interfaceName: String)] {
        entries().compactMap { name in
            guard let ip = IPAddress(name) else { return nil }
            let text = Self.readFile(directory + "/" + name) ?? ""
            let parts = text.trimmed().split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false)
            return (ip, parts.first.map(String.init) ?? "", parts.count > 1 ? String(parts[1]) : "")
        }
    }

    /// The addresses the attachment holds (matching the older format's ID-only files too, as host-local does).
    func addresses(containerID: String, interfaceName: String) -> [IPAddress] {
        allocations().filter { owns($0, containerID, interfaceName) }.map(\.ip)
    }

    /// Removes every address file of the attachment. Call with the lock held.
    /// - Returns: the addresses released.
    @discardableResult
    func release(containerID: String, interfaceName: String) -> [IPAddress] {
        let mine = allocations().filter { owns($0, containerID, interfaceName) }
        for entry in mine { unlink(directory + "/" + entry.ip.description) }
        return mine.map(\.ip)
    }

    /// Removes one address file (an ADD taking back what it reserved). Call with the lock held.
    func unreserve(_ ip: IPAddress) { unlink(directory + "/" + ip.description) }

    /// Removes what no running plugin can be writing (call with the lock held): temporary files of killed
    /// plugins and address files with no owner recorded (the reference plugin killed mid-write).
    /// - Returns: the addresses freed.
    func removeDebris() -> [IPAddress] {
        for name in entries() where name.hasPrefix(".reserving-") { unlink(directory + "/" + name) }
        let orphans = allocations().filter { $0.containerID.isEmpty }
        for entry in orphans { unlink(directory + "/" + entry.ip.description) }
        return orphans.map(\.ip)
    }

    /// Whether the store can be written (STATUS): a file can be created and removed in it.
    func isWritable() -> Bool {
        let probe = "\(directory)/.status-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        unlink(probe)
        return true
    }

    private func owns(
        _ entry: (ip: IPAddress, containerID: String, interfaceName: String), _ id: String, _ name: String
    )
        -> Bool
    {
        entry.containerID == id.trimmed() && (entry.interfaceName == name || entry.interfaceName.isEmpty)
    }

    private func entries() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func makeDirectories(_ path: String) throws(CNIError) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw failure("create \(prefix)") }
        }
    }

    /// Writes `bytes` to a new file of mode 0600 (replacing one that exists unless `exclusive`).
    static func writeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool) throws(CNIError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw failure("create \(path)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw failure("write \(path)") }
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            out += buffer[..<count]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func failure(_ operation: String) -> CNIError {
        CNIError(.ioFailure, "\(operation): \(String(cString: strerror(errno)))")
    }
}
