import Netlink

/// Why a request on a `NetlinkSocket` failed. The case names are the `reason` label of metrics counting failures.
public enum NetlinkSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kernel refused the request (EEXIST, ENODEV, …, with its own explanation when it gives one).
    case refused(KernelError)
    /// A system call on the socket failed (or the namespace could not be entered).
    case system(KernelCallError)
    /// The kernel did not answer within the socket's timeout.
    case timedOut
    /// The answer could not be decoded.
    case malformed(NetlinkError)
    /// The kernel dropped announcements because the receive buffer was full (ENOBUFS): dump again.
    case overrun

    /// The metric label.
    public var reason: String {
        switch self {
        case .refused(let error): error.name
        case .system: "system"
        case .timedOut: "timeout"
        case .malformed: "malformed"
        case .overrun: "overrun"
        }
    }

    public var description: String {
        switch self {
        case .refused(let error): "the kernel refused: \(error)"
        case .system(let error): error.description
        case .timedOut: "the kernel did not answer in time"
        case .malformed(let error): "malformed netlink answer: \(error)"
        case .overrun: "netlink announcements were lost (receive buffer full)"
        }
    }
}
