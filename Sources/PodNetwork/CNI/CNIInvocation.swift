/// What the runtime passed in the environment (spec 1.1.0 §"Parameters"), checked as libcni's `skel` checks it.
///
/// Pure value.
public struct CNIInvocation: Sendable, Equatable {
    public var command: CNICommand
    public var containerID: String
    /// CNI_NETNS: the pod's network namespace path (empty for DEL of a pod whose namespace is gone).
    public var networkNamespace: String
    public var interfaceName: String
    /// CNI_ARGS: `KEY=VALUE` pairs separated by `;`.
    public var arguments: [String: String]

    /// - Throws: `CNIError.invalidEnvironment` when CNI_COMMAND is missing or unknown, a variable the command needs
    ///   is missing (all of them named), or the container ID or interface name is malformed;
    ///   `.unknownContainer` for an empty container ID.
    public init(environment: [String: String]) throws(CNIError) {
        let value = { (name: String) in environment[name] ?? "" }
        guard let command = CNICommand(rawValue: value("CNI_COMMAND")) else {
            if value("CNI_COMMAND").isEmpty {
                throw CNIError(.invalidEnvironment, "required env variables [CNI_COMMAND] missing")
            }
            throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND: \(value("CNI_COMMAND"))")
        }
        var required: [String] = []
        switch command {
        case .add, .check: required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]
        case .delete: required = ["CNI_CONTAINERID", "CNI_IFNAME"]
        case .status, .version, .garbageCollect: break
        }
        let missing = required.filter { value($0).isEmpty }
        guard missing.isEmpty else {
            throw CNIError(.invalidEnvironment, "required env variables [\(missing.joined(separator: ","))] missing")
        }
        self.command = command
        containerID = value("CNI_CONTAINERID")
        networkNamespace = value("CNI_NETNS")
        interfaceName = value("CNI_IFNAME")
        if !required.isEmpty {
            guard NetworkConfig.isValidName(containerID) else {
                throw CNIError(.invalidEnvironment, "invalid characters in containerID", details: containerID)
            }
            try Self.checkInterfaceName(interfaceName)
        }
        var arguments: [String: String] = [:]
        for pair in value("CNI_ARGS").split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS holds \"\(pair)\", not KEY=VALUE")
            }
            arguments[String(parts[0])] = String(parts[1])
        }
        self.arguments = arguments
    }

    /// The kernel's rule for interface names.
    /// - Throws: `CNIError.invalidEnvironment` saying what is wrong.
    static func checkInterfaceName(_ name: String) throws(CNIError) {
        if name.utf8.count > 15 {
            throw CNIError(
                .invalidEnvironment, "interface name is too long",
                details: "interface name should be less than 16 characters")
        }
        if name == "." || name == ".." { throw CNIError(.invalidEnvironment, "interface name is . or ..") }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            throw CNIError(.invalidEnvironment, "interface name contains / or : or whitespace characters")
        }
    }
}
