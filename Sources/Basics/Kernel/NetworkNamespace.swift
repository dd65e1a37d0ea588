import CLinuxNet
import Glibc

/// A Linux network namespace, named by a path: `/var/run/netns/NAME` (what `ip netns add` makes) or
/// `/proc/PID/ns/net` (a container's, as CNI passes it in `CNI_NETNS`).
///
/// A thread enters a namespace only in `run`, on a thread of its own that ends with the call, so no other work — and
/// never Swift's cooperative pool — ever runs in a namespace it did not ask for.
public struct NetworkNamespace: Sendable, Hashable, CustomStringConvertible {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The namespace `ip netns add NAME` created.
    public init(named name: String) {
        self.path = "/var/run/netns/\(name)"
    }

    /// The namespace of the calling process.
    public static let current = NetworkNamespace(path: "/proc/self/ns/net")

    public var description: String { path }

    /// Opens the namespace file (for `IFLA_NET_NS_FD`, or to check that it exists). The caller closes it.
    /// - Throws: `KernelCallError` naming the path and errno when it cannot be opened (ENOENT: no such namespace).
    public func open() throws(KernelCallError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelCallError(operation: "open network namespace \(path)", errno: errno) }
        return fd
    }

    /// Runs `body` on a new thread that has entered this namespace, and waits for it. The calling thread stays in
    /// its own namespace. Blocks the caller: from async code, call it through `BlockingWork`.
    /// - Throws: `KernelCallError` when the namespace cannot be opened or entered (then `body` does not run), or
    ///   what `body` throws.
    public func run<T>(_ body: () throws -> T) throws -> T {
        let fd = try open()
        defer { close(fd) }
        return try withoutActuallyEscaping(body) { body in
            let job = NamespaceJob(namespace: fd, body: body)
            let context = Unmanaged.passRetained(job)
            var thread = pthread_t()
            let created = pthread_create(
                &thread, nil,
                { raw in
                    let job = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! any NamespaceJobRunner
                    job.runInNamespace()
                    return nil
                }, context.toOpaque())
            guard created == 0 else {
                context.release()
                throw KernelCallError(operation: "start a thread for \(path)", errno: created)
            }
            pthread_join(thread, nil)
            return try job.result!.get()
        }
    }
}

/// What `run`'s thread does, behind a protocol so the C callback needs no generic parameter.
private protocol NamespaceJobRunner: AnyObject {
    func runInNamespace()
}

/// `body`, the namespace to run it in and, once done, its result. Only one thread touches it at a time: the new
/// thread until it ends, then (after `pthread_join`) the caller.
private final class NamespaceJob<T>: NamespaceJobRunner {
    let namespace: Int32
    let body: () throws -> T
    var result: Result<T, any Error>?

    init(namespace: Int32, body: @escaping () throws -> T) {
        self.namespace = namespace
        self.body = body
    }

    func runInNamespace() {
        guard pylon_enter_network_namespace(namespace) == 0 else {
            result = .failure(KernelCallError(operation: "enter network namespace", errno: errno))
            return
        }
        result = Result { try body() }
    }
}
