/// Why a patch could not be applied; the message is what kube-apiserver would send back in a 4xx Status.
public struct PatchError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
