#if canImport(Glibc)
    import Glibc
#endif

/// Small synchronous file helpers for start-up and configuration work (credentials, kubeconfig, `subnet.env`, CNI
/// configuration); not for hot paths.
///
/// Thread-safe (no state). Every failure is a `Failure` naming the path and the C library's reason.
public enum FileIO {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes `bytes` to `path` atomically (temporary file + rename) with permission `mode`: readers see the old
    /// file or the new one, never a part.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw Failure(description: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw Failure(description: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    /// The contents of `path`, or `nil` when it does not exist or cannot be read.
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    /// Creates an empty file with mode 0600 unless it exists, so that files derived from it (SQLite's `-wal` and
    /// `-shm` take the database's mode) are private too.
    public static func createPrivateFile(_ path: String) throws(Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        close(fd)
    }

    /// Creates `path` and its parents with permission `mode` (0700 unless told otherwise) when missing.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(Failure) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0, errno != EEXIST {
                throw Failure(description: "cannot create directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}
