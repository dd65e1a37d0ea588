import KubeAPI
import OrderedCollections

/// A CNI error result (spec 1.1.0 §"Error"): a well-known code, a message and optional details, printed as JSON on
/// standard output with exit status 1.
///
/// Pure value. `code.label` names the code for metrics and logs.
public struct CNIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The spec's well-known error codes, and Pylon's own from 100 up.
    public enum Code: UInt, Sendable, CaseIterable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodingFailure = 6
        case invalidConfig = 7
        case invalidNetworkNamespace = 8
        case tryAgainLater = 11
        case notAvailable = 50
        case limitedConnectivity = 51
        /// Pylon: the kernel refused a change to the network (its reason is in the message).
        case kernelRefused = 100
        /// Pylon: the address range has no free address left.
        case rangeExhausted = 101
        /// Pylon: CHECK found the network not as ADD left it.
        case checkFailed = 102
        /// Pylon: ADD found the pod already has an interface of the name asked for.
        case interfaceExists = 103
        /// Pylon: a failure with no better code (the reference plugins' 999).
        case internalError = 999

        public var label: String {
            switch self {
            case .incompatibleVersion: "incompatible_version"
            case .unsupportedField: "unsupported_field"
            case .unknownContainer: "unknown_container"
            case .invalidEnvironment: "invalid_environment"
            case .ioFailure: "io_failure"
            case .decodingFailure: "decoding_failure"
            case .invalidConfig: "invalid_config"
            case .invalidNetworkNamespace: "invalid_netns"
            case .tryAgainLater: "try_again_later"
            case .notAvailable: "not_available"
            case .limitedConnectivity: "limited_connectivity"
            case .kernelRefused: "kernel_refused"
            case .rangeExhausted: "range_exhausted"
            case .checkFailed: "check_failed"
            case .interfaceExists: "interface_exists"
            case .internalError: "internal"
            }
        }
    }

    public var code: Code
    public var message: String
    public var details: String?

    public init(_ code: Code, _ message: String, details: String? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String {
        guard let details, !details.isEmpty else { return message }
        return "\(message); \(details)"
    }

    /// The error document, in `cniVersion` (the configuration's, or the newest when it could not be read).
    public func json(cniVersion: String) -> JSON {
        var object: JSONObject = ["cniVersion": .string(cniVersion), "code": .int(Int64(code.rawValue))]
        object["msg"] = .string(message)
        if let details, !details.isEmpty { object["details"] = .string(details) }
        return .object(object)
    }
}
