/// The kernel's refusal of a request: the errno of an `NLMSG_ERROR` answer and, when the kernel sends one, the
/// extended acknowledgement's message (`NLMSGERR_ATTR_MSG`, such as "Nexthop device is not up").
///
/// Pure value. `name` ("EEXIST") is a fixed, small set of strings, fit for a metric label.
public struct KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno, positive (17 is EEXIST).
    public var code: Int32
    /// The extended acknowledgement's text, if any.
    public var message: String?

    public init(code: Int32, message: String? = nil) {
        self.code = code
        self.message = message
    }

    public static let notPermitted: Int32 = 1
    public static let noEntry: Int32 = 2
    public static let noProcess: Int32 = 3
    public static let busy: Int32 = 16
    public static let exists: Int32 = 17
    public static let noDevice: Int32 = 19
    public static let invalid: Int32 = 22
    public static let networkDown: Int32 = 100
    public static let noBufferSpace: Int32 = 105

    /// errno's symbolic name and the C library's wording for the errors rtnetlink answers with.
    private static let known: [Int32: (String, String)] = [
        1: ("EPERM", "Operation not permitted"), 2: ("ENOENT", "No such file or directory"),
        3: ("ESRCH", "No such process"), 16: ("EBUSY", "Device or resource busy"), 17: ("EEXIST", "File exists"),
        19: ("ENODEV", "No such device"), 22: ("EINVAL", "Invalid argument"),
        34: ("ERANGE", "Numerical result out of range"), 95: ("EOPNOTSUPP", "Operation not supported"),
        97: ("EAFNOSUPPORT", "Address family not supported by protocol"),
        99: ("EADDRNOTAVAIL", "Cannot assign requested address"), 100: ("ENETDOWN", "Network is down"),
        101: ("ENETUNREACH", "Network is unreachable"),
        105: ("ENOBUFS", "No buffer space available"),
    ]

    /// The errno's symbolic name, or `errno<N>` for one not in the table.
    public var name: String { Self.known[code]?.0 ?? "errno\(code)" }

    public var description: String {
        let base = "\(Self.known[code]?.1 ?? "error \(code)") (\(name))"
        guard let message, !message.isEmpty else { return base }
        return "\(base): \(message)"
    }

    static let attributeMessage: UInt16 = 1

    /// Reads an `NLMSG_ERROR` message: nil for an acknowledgement (errno 0), else the error.
    /// - Throws: `NetlinkError` when the message is not an error message or runs short of what its header says.
    public init?(decoding message: NetlinkMessage) throws(NetlinkError) {
        guard message.type == NetlinkMessage.error else { throw .malformed("NLMSG_ERROR") }
        let payload = message.payload
        guard payload.count >= 4 + NetlinkMessage.headerLength else { throw .truncated }
        let errno = Int32(bitPattern: payload.le32(at: payload.startIndex))
        guard errno != 0 else { return nil }
        code = Int32(clamping: -Int64(errno))  // a hostile Int32.min must not trap
        guard message.flags & NetlinkMessage.flagAcknowledgeTLVs != 0 else { return }
        // The request comes back after the errno: whole, or only its header when the answer is capped.
        let echoed = payload.dropFirst(4)
        let echoedLength =
            message.flags & NetlinkMessage.flagCapped != 0
            ? NetlinkMessage.headerLength : Int(echoed.le32(at: echoed.startIndex))
        guard echoedLength >= NetlinkMessage.headerLength, echoedLength <= echoed.count else { throw .truncated }
        let tlvs = echoed.dropFirst(NetlinkMessage.align(echoedLength))
        for (type, value) in try NetlinkMessage.attributes(tlvs) where type == Self.attributeMessage {
            self.message = value.cString
        }
    }
}
