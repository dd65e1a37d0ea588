import KubeAPI

/// A `BFDProfile` (metallb.io/v1beta1) after validation: the parameters of the BFD sessions of the BGPPeers that
/// name it. Pure: no I/O. Unset fields take MetalLB's defaults.
public struct BFDProfile: Sendable, Equatable {
    public var name: String
    /// The slowest rate at which this side wants to receive control packets (`receiveInterval`, 300 ms).
    public var receiveInterval: Duration
    /// The fastest rate at which this side wants to send them (`transmitInterval`, 300 ms).
    public var transmitInterval: Duration
    /// Packets that may go missing before the peer declares the session down (`detectMultiplier`, 3).
    public var detectMultiplier: UInt8
    /// `echoMode` / `echoInterval` (50 ms): accepted and kept, but Pylon sends no echo packets (docs/speaker-bgp.md).
    public var echoMode: Bool
    public var echoInterval: Duration
    /// Wait for the peer's first packet instead of sending first (`passiveMode`).
    public var passiveMode: Bool
    /// Lowest TTL accepted on multi-hop sessions (`minimumTtl`, 254); single-hop sessions require 255.
    public var minimumTTL: UInt8

    public init(
        name: String, receiveInterval: Duration = .milliseconds(300), transmitInterval: Duration = .milliseconds(300),
        detectMultiplier: UInt8 = 3, echoMode: Bool = false, echoInterval: Duration = .milliseconds(50),
        passiveMode: Bool = false, minimumTTL: UInt8 = 254
    ) {
        self.name = name
        self.receiveInterval = receiveInterval
        self.transmitInterval = transmitInterval
        self.detectMultiplier = detectMultiplier
        self.echoMode = echoMode
        self.echoInterval = echoInterval
        self.passiveMode = passiveMode
        self.minimumTTL = minimumTTL
    }

    /// Reads and checks one object against the CRD's ranges; nil (after reporting through `fail`) when unusable.
    init?(_ object: JSON, fail: (String, String) -> Void) {
        self.init(name: object["metadata"]?["name"]?.stringValue ?? "")
        let spec = object["spec"] ?? [:]
        var usable = true
        func number(_ field: String, in range: ClosedRange<Int64>, unit: String) -> Int64? {
            guard let value = spec[field] else { return nil }
            guard let number = value.intValue, range.contains(number) else {
                fail("spec.\(field)", "must be a whole number from \(range.lowerBound) to \(range.upperBound)\(unit)")
                usable = false
                return nil
            }
            return number
        }
        let milliseconds = 10...60_000 as ClosedRange<Int64>
        if let value = number("receiveInterval", in: milliseconds, unit: " (milliseconds)") {
            receiveInterval = .milliseconds(value)
        }
        if let value = number("transmitInterval", in: milliseconds, unit: " (milliseconds)") {
            transmitInterval = .milliseconds(value)
        }
        if let value = number("echoInterval", in: milliseconds, unit: " (milliseconds)") {
            echoInterval = .milliseconds(value)
        }
        if let value = number("detectMultiplier", in: 2...255, unit: "") { detectMultiplier = UInt8(value) }
        if let value = number("minimumTtl", in: 1...254, unit: "") { minimumTTL = UInt8(value) }
        for field in ["echoMode", "passiveMode"] {
            guard let value = spec[field] else { continue }
            guard let flag = value.boolValue else {
                fail("spec.\(field)", "must be true or false")
                usable = false
                continue
            }
            if field == "echoMode" { echoMode = flag } else { passiveMode = flag }
        }
        if !usable { return nil }
    }
}
