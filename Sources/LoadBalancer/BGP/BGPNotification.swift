/// A NOTIFICATION (RFC 4271 §4.5): error code, subcode and data. The decoders throw the one to send for input
/// they reject, so a session's reply to bad input is always the RFC's.
public struct BGPNotification: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: UInt8
    public var subcode: UInt8
    public var data: [UInt8]

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = []) {
        self.code = code
        self.subcode = subcode
        self.data = data
    }

    // MARK: Codes (RFC 4271 §6, RFC 6608, RFC 7313)

    public static let messageHeaderError: UInt8 = 1
    public static let openMessageError: UInt8 = 2
    public static let updateMessageError: UInt8 = 3
    public static let holdTimerExpiredCode: UInt8 = 4
    public static let finiteStateMachineError: UInt8 = 5
    public static let ceaseCode: UInt8 = 6
    public static let routeRefreshMessageError: UInt8 = 7

    // MARK: Message header errors

    public static let connectionNotSynchronized = BGPNotification(code: 1, subcode: 1)
    public static func badMessageLength(_ length: UInt16) -> BGPNotification {
        BGPNotification(code: 1, subcode: 2, data: [UInt8(length >> 8), UInt8(length & 0xFF)])
    }
    public static func badMessageType(_ type: UInt8) -> BGPNotification {
        BGPNotification(code: 1, subcode: 3, data: [type])
    }

    // MARK: OPEN errors

    /// Data: the largest version supported (4).
    public static let unsupportedVersionNumber = BGPNotification(code: 2, subcode: 1, data: [0, 4])
    public static let badPeerAS = BGPNotification(code: 2, subcode: 2)
    public static let badBGPIdentifier = BGPNotification(code: 2, subcode: 3)
    public static let unsupportedOptionalParameter = BGPNotification(code: 2, subcode: 4)
    public static let unacceptableHoldTime = BGPNotification(code: 2, subcode: 6)
    /// Data: the capabilities missing or not supported (RFC 5492).
    public static func unsupportedCapability(_ capabilities: [UInt8]) -> BGPNotification {
        BGPNotification(code: 2, subcode: 7, data: capabilities)
    }

    // MARK: UPDATE errors (data: the offending attribute, type-length-value, where the RFC asks for it)

    public static let malformedAttributeList = BGPNotification(code: 3, subcode: 1)
    public static func unrecognizedWellKnownAttribute(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 2, data: attribute)
    }
    public static func missingWellKnownAttribute(_ type: UInt8) -> BGPNotification {
        BGPNotification(code: 3, subcode: 3, data: [type])
    }
    public static func attributeFlagsError(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 4, data: attribute)
    }
    public static func attributeLengthError(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 5, data: attribute)
    }
    public static func invalidOrigin(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 6, data: attribute)
    }
    public static func invalidNextHop(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 8, data: attribute)
    }
    public static func optionalAttributeError(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 9, data: attribute)
    }
    public static let invalidNetworkField = BGPNotification(code: 3, subcode: 10)
    public static let malformedASPath = BGPNotification(code: 3, subcode: 11)

    // MARK: Others

    public static let holdTimerExpired = BGPNotification(code: 4, subcode: 0)
    /// RFC 6608: 1 unexpected message in OpenSent, 2 in OpenConfirm, 3 in Established.
    public static func fsmError(_ subcode: UInt8) -> BGPNotification { BGPNotification(code: 5, subcode: subcode) }
    /// RFC 4486 subcodes: 1 maximum number of prefixes reached, 2 administrative shutdown, 3 peer de-configured,
    /// 4 administrative reset, 5 connection rejected, 6 other configuration change, 7 connection collision
    /// resolution, 8 out of resources; RFC 8538: 9 hard reset.
    public static func cease(_ subcode: UInt8, data: [UInt8] = []) -> BGPNotification {
        BGPNotification(code: 6, subcode: subcode, data: data)
    }
    /// RFC 7313: a ROUTE-REFRESH of the wrong length; data: the message.
    public static func invalidRouteRefreshLength(_ message: [UInt8]) -> BGPNotification {
        BGPNotification(code: 7, subcode: 1, data: message)
    }

    /// The RFCs' names, e.g. "UPDATE Message Error / Malformed AS_PATH".
    public var description: String {
        let codes = [
            1: "Message Header Error", 2: "OPEN Message Error", 3: "UPDATE Message Error", 4: "Hold Timer Expired",
            5: "Finite State Machine Error", 6: "Cease", 7: "ROUTE-REFRESH Message Error",
        ]
        let subcodes: [UInt8: [UInt8: String]] = [
            1: [1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type"],
            2: [
                1: "Unsupported Version Number", 2: "Bad Peer AS", 3: "Bad BGP Identifier",
                4: "Unsupported Optional Parameter", 6: "Unacceptable Hold Time", 7: "Unsupported Capability",
            ],
            3: [
                1: "Malformed Attribute List", 2: "Unrecognized Well-known Attribute",
                3: "Missing Well-known Attribute", 4: "Attribute Flags Error", 5: "Attribute Length Error",
                6: "Invalid ORIGIN Attribute", 8: "Invalid NEXT_HOP Attribute", 9: "Optional Attribute Error",
                10: "Invalid Network Field", 11: "Malformed AS_PATH",
            ],
            5: [
                1: "Unexpected Message in OpenSent", 2: "Unexpected Message in OpenConfirm",
                3: "Unexpected Message in Established",
            ],
            6: [
                1: "Maximum Number of Prefixes Reached", 2: "Administrative Shutdown", 3: "Peer De-configured",
                4: "Administrative Reset", 5: "Connection Rejected", 6: "Other Configuration Change",
                7: "Connection Collision Resolution", 8: "Out of Resources", 9: "Hard Reset",
            ],
            7: [1: "Invalid Message Length"],
        ]
        let name = codes[Int(code)] ?? "error code \(code)"
        guard subcode != 0 else { return name }
        return "\(name) / \(subcodes[code]?[subcode] ?? "subcode \(subcode)")"
    }
}
