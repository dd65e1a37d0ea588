import Glibc

/// Kernel settings under `/proc/sys` (`net/ipv4/ip_forward`, `net/ipv6/conf/eth0/accept_dad`, …). The network ones
/// belong to the network namespace of the thread that opens the file: to change a pod's, call them inside
/// `NetworkNamespace.run`.
public enum Sysctl {
    /// Writes `value` to `/proc/sys/<name>`.
    /// - Throws: `KernelCallError` naming the setting (ENOENT: no such setting, or no such interface).
    public static func write(_ name: String, _ value: String) throws(KernelCallError) {
        let path = "/proc/sys/" + name
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelCallError(operation: "open \(path)", errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw KernelCallError(operation: "write \(value) to \(path)", errno: errno)
        }
    }

    /// Reads `/proc/sys/<name>`, without the trailing newline.
    /// - Throws: `KernelCallError` naming the setting.
    public static func read(_ name: String) throws(KernelCallError) -> String {
        let path = "/proc/sys/" + name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelCallError(operation: "open \(path)", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw KernelCallError(operation: "read \(path)", errno: errno) }
        var text = String(decoding: buffer[..<count], as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
