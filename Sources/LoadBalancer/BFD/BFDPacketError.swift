/// Why a received BFD Control packet is discarded (RFC 5880 §6.8.6); counted by reason, never answered.
public enum BFDPacketError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated
    case unsupportedVersion(UInt8)
    /// The Length field is below the minimum or beyond the datagram.
    case badLength(Int)
    /// The A bit: Pylon configures no BFD authentication, so such packets are discarded.
    case authenticationNotSupported
    case zeroDetectMultiplier
    /// The M bit (reserved for multipoint) is set.
    case multipoint
    case unknownDiagnostic(UInt8)
    case zeroMyDiscriminator
    /// Your Discriminator is 0 while the sender is neither Down nor AdminDown.
    case zeroYourDiscriminator(BFDPacket.State)

    /// A short label for metrics.
    public var reason: String {
        switch self {
        case .truncated: "truncated"
        case .unsupportedVersion: "version"
        case .badLength: "length"
        case .authenticationNotSupported: "authentication"
        case .zeroDetectMultiplier: "detect_multiplier"
        case .multipoint: "multipoint"
        case .unknownDiagnostic: "diagnostic"
        case .zeroMyDiscriminator: "my_discriminator"
        case .zeroYourDiscriminator: "your_discriminator"
        }
    }

    public var description: String {
        switch self {
        case .truncated: "truncated packet"
        case .unsupportedVersion(let v): "unsupported version \(v)"
        case .badLength(let n): "bad length \(n)"
        case .authenticationNotSupported: "authentication section present but none configured"
        case .zeroDetectMultiplier: "detect multiplier 0"
        case .multipoint: "multipoint bit set"
        case .unknownDiagnostic(let d): "unknown diagnostic \(d)"
        case .zeroMyDiscriminator: "my discriminator 0"
        case .zeroYourDiscriminator(let state): "your discriminator 0 in state \(state)"
        }
    }
}
