import NetCore

/// A BFD Control packet (RFC 5880 §4.1), as sent over UDP port 3784 for single-hop sessions (RFC 5881).
///
/// Pure value; `decode` applies the reception checks of RFC 5880 §6.8.6 that need no session (version, lengths,
/// detect multiplier, multipoint bit, discriminators), each failure a `BFDPacketError`.
public struct BFDPacket: Sendable, Equatable {
    /// Session states as carried in the packet.
    public enum State: UInt8, Sendable, CustomStringConvertible {
        case adminDown = 0, down = 1, initializing = 2, up = 3

        public var description: String {
            switch self {
            case .adminDown: "AdminDown"
            case .down: "Down"
            case .initializing: "Init"
            case .up: "Up"
            }
        }
    }

    /// Why the sender's session last left Up (RFC 5880 §4.1; values 0–8).
    public enum Diagnostic: UInt8, Sendable {
        case none = 0
        case controlDetectionTimeExpired = 1
        case echoFunctionFailed = 2
        case neighborSignaledSessionDown = 3
        case forwardingPlaneReset = 4
        case pathDown = 5
        case concatenatedPathDown = 6
        case administrativelyDown = 7
        case reverseConcatenatedPathDown = 8
    }

    /// The only version: 1.
    public static let version: UInt8 = 1
    /// Length of a packet without authentication section.
    public static let length = 24

    public var diagnostic: Diagnostic
    public var state: State
    /// P: the sender asks for a Final (its timing changed).
    public var poll: Bool
    /// F: answers a Poll.
    public var final: Bool
    /// C: the sender's BFD does not share fate with its control plane.
    public var controlPlaneIndependent: Bool
    /// D: demand mode (not used by Pylon; kept as received).
    public var demand: Bool
    public var detectMultiplier: UInt8
    public var myDiscriminator: UInt32
    /// 0 until the sender has heard from the other side.
    public var yourDiscriminator: UInt32
    /// Microseconds.
    public var desiredMinTxInterval: UInt32
    /// Microseconds; 0: the sender does not want packets.
    public var requiredMinRxInterval: UInt32
    /// Microseconds; 0: the sender does not do echo.
    public var requiredMinEchoRxInterval: UInt32

    public init(
        diagnostic: Diagnostic = .none, state: State, poll: Bool = false, final: Bool = false,
        controlPlaneIndependent: Bool = false, demand: Bool = false, detectMultiplier: UInt8, myDiscriminator: UInt32,
        yourDiscriminator: UInt32, desiredMinTxInterval: UInt32, requiredMinRxInterval: UInt32,
        requiredMinEchoRxInterval: UInt32 = 0
    ) {
        self.diagnostic = diagnostic
        self.state = state
        self.poll = poll
        self.final = final
        self.controlPlaneIndependent = controlPlaneIndependent
        self.demand = demand
        self.detectMultiplier = detectMultiplier
        self.myDiscriminator = myDiscriminator
        self.yourDiscriminator = yourDiscriminator
        self.desiredMinTxInterval = desiredMinTxInterval
        self.requiredMinRxInterval = requiredMinRxInterval
        self.requiredMinEchoRxInterval = requiredMinEchoRxInterval
    }

    /// The 24 bytes on the wire (no authentication section).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.version << 5 | diagnostic.rawValue]
        var flags = state.rawValue << 6
        if poll { flags |= 0x20 }
        if final { flags |= 0x10 }
        if controlPlaneIndependent { flags |= 0x08 }
        if demand { flags |= 0x02 }
        out.append(flags)
        out.append(detectMultiplier)
        out.append(UInt8(Self.length))
        for field in [
            myDiscriminator, yourDiscriminator, desiredMinTxInterval, requiredMinRxInterval, requiredMinEchoRxInterval,
        ] {
            out.append32(field)
        }
        return out
    }

    /// Decodes one datagram.
    public static func decode(_ datagram: ArraySlice<UInt8>) throws(BFDPacketError) -> BFDPacket {
        var reader = ByteReader(datagram, truncated: BFDPacketError.truncated)
        let first = try reader.u8()
        guard first >> 5 == version else { throw .unsupportedVersion(first >> 5) }
        let flags = try reader.u8()
        let multiplier = try reader.u8()
        let length = Int(try reader.u8())
        guard length >= Self.length, length <= datagram.count else { throw .badLength(length) }
        guard flags & 0x04 == 0 else { throw .authenticationNotSupported }
        guard multiplier != 0 else { throw .zeroDetectMultiplier }
        guard flags & 0x01 == 0 else { throw .multipoint }
        guard let diagnostic = Diagnostic(rawValue: first & 0x1F) else { throw .unknownDiagnostic(first & 0x1F) }
        let state = State(rawValue: flags >> 6)!
        let packet = BFDPacket(
            diagnostic: diagnostic, state: state, poll: flags & 0x20 != 0, final: flags & 0x10 != 0,
            controlPlaneIndependent: flags & 0x08 != 0, demand: flags & 0x02 != 0, detectMultiplier: multiplier,
            myDiscriminator: try reader.u32(), yourDiscriminator: try reader.u32(),
            desiredMinTxInterval: try reader.u32(), requiredMinRxInterval: try reader.u32(),
            requiredMinEchoRxInterval: try reader.u32())
        guard packet.myDiscriminator != 0 else { throw .zeroMyDiscriminator }
        guard packet.yourDiscriminator != 0 || state == .down || state == .adminDown else {
            throw .zeroYourDiscriminator(state)
        }
        return packet
    }
}
