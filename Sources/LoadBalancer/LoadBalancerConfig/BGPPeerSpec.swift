import KubeAPI
import NetCore

/// A `BGPPeer` (metallb.io/v1beta2) after validation: whom to peer with, from which nodes, with which timers.
public struct BGPPeerSpec: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var myASN: UInt32
    public var peerASN: UInt32
    public var address: IPAddress
    public var port: Int
    public var sourceAddress: IPAddress?
    /// Seconds; MetalLB's default 90.
    public var holdTime: UInt16
    /// Seconds; nil: a third of the negotiated hold time.
    public var keepaliveTime: UInt16?
    /// How long one TCP connection attempt may take.
    public var connectTime: Duration
    /// The BGP identifier to use (IPv4); nil: the node's own.
    public var routerID: IPAddress?
    /// Nodes that peer; empty: every node.
    public var nodeSelectors: [LabelSelector]
    /// TCP-MD5 password given inline (kept out of `description`).
    public var password: String?
    /// Secret holding the TCP-MD5 password (key `password`), in the configuration namespace unless named.
    public var passwordSecret: (name: String, namespace: String?)?
    public var bfdProfile: String?
    public var enableGracefulRestart: Bool
    public var ebgpMultiHop: Bool

    public var description: String {
        "BGPPeer \(name): AS \(myASN) → \(address):\(port) AS \(peerASN)"
    }

    public static func == (a: BGPPeerSpec, b: BGPPeerSpec) -> Bool {
        a.name == b.name && a.myASN == b.myASN && a.peerASN == b.peerASN && a.address == b.address
            && a.port == b.port && a.sourceAddress == b.sourceAddress && a.holdTime == b.holdTime
            && a.keepaliveTime == b.keepaliveTime && a.connectTime == b.connectTime && a.routerID == b.routerID
            && a.nodeSelectors == b.nodeSelectors && a.password == b.password
            && a.passwordSecret?.name == b.passwordSecret?.name
            && a.passwordSecret?.namespace == b.passwordSecret?.namespace && a.bfdProfile == b.bfdProfile
            && a.enableGracefulRestart == b.enableGracefulRestart && a.ebgpMultiHop == b.ebgpMultiHop
    }

    /// Whether a node with `labels` peers.
    public func selects(nodeLabels labels: [String: String]) -> Bool {
        nodeSelectors.isEmpty || nodeSelectors.contains { $0.matches(labels) }
    }

    /// Reads and checks one object; nil (after reporting through `fail`) when it is unusable.
    init?(_ object: JSON, fail: (String, String) -> Void) {
        let spec = object["spec"] ?? [:]
        name = object["metadata"]?["name"]?.stringValue ?? ""
        var usable = true
        func asn(_ field: String) -> UInt32 {
            guard let v = spec[field]?.intValue, v > 0, v <= Int64(UInt32.max) else {
                fail(
                    "spec.\(field)",
                    spec["dynamicASN"] != nil && field == "peerASN"
                        ? "dynamicASN is not supported yet; give peerASN"
                        : "an AS number between 1 and 4294967295 is required")
                usable = false
                return 0
            }
            return UInt32(v)
        }
        myASN = asn("myASN")
        peerASN = asn("peerASN")
        if let text = spec["peerAddress"]?.stringValue, let ip = IPAddress(text) {
            address = ip
        } else {
            fail("spec.peerAddress", "an IP address is required")
            usable = false
            address = .v4(0)
        }
        let rawPort = spec["peerPort"]?.intValue ?? 179
        if !(1...65535).contains(rawPort) {
            fail("spec.peerPort", "must be between 1 and 65535")
            usable = false
        }
        port = Int(rawPort)
        sourceAddress = nil
        if let text = spec["sourceAddress"]?.stringValue {
            sourceAddress = IPAddress(text)
            if sourceAddress == nil {
                fail("spec.sourceAddress", "\"\(text)\" is not an IP address")
                usable = false
            }
        }
        func seconds(_ field: String) -> Duration? {
            guard let text = spec[field]?.stringValue else { return nil }
            guard let duration = GoDuration.parse(text) else {
                fail("spec.\(field)", "\"\(text)\" is not a duration such as 90s or 1m30s")
                usable = false
                return nil
            }
            return duration
        }
        let hold = seconds("holdTime") ?? .seconds(90)
        let holdSeconds = hold.components.seconds
        if holdSeconds != 0 && holdSeconds < 3 || holdSeconds > 65535 {
            fail("spec.holdTime", "must be 0 or between 3s and 65535s")
            usable = false
        }
        holdTime = UInt16(clamping: holdSeconds)
        keepaliveTime = nil
        if let keepalive = seconds("keepaliveTime") {
            if keepalive > hold || holdSeconds == 0 && keepalive > .zero {
                fail("spec.keepaliveTime", "must not be longer than holdTime")
                usable = false
            }
            keepaliveTime = UInt16(clamping: keepalive.components.seconds)
        }
        connectTime = seconds("connectTime") ?? .seconds(5)
        routerID = nil
        if let text = spec["routerID"]?.stringValue {
            routerID = IPAddress(text)
            if routerID?.family != .ipv4 {
                fail("spec.routerID", "\"\(text)\" is not an IPv4 address")
                usable = false
            }
        }
        nodeSelectors = Configuration.selectors(spec["nodeSelectors"], "spec.nodeSelectors", fail)
        password = spec["password"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        passwordSecret = nil
        if let secret = spec["passwordSecret"], let secretName = secret["name"]?.stringValue {
            passwordSecret = (secretName, secret["namespace"]?.stringValue)
            if password != nil {
                fail("spec.password", "password and passwordSecret cannot both be set")
                usable = false
            }
        }
        bfdProfile = spec["bfdProfile"]?.stringValue
        enableGracefulRestart = spec["enableGracefulRestart"]?.boolValue ?? false
        ebgpMultiHop = spec["ebgpMultiHop"]?.boolValue ?? false
        if ebgpMultiHop, myASN == peerASN, usable {
            fail("spec.ebgpMultiHop", "applies to external peers only (myASN equals peerASN)")
            usable = false
        }
        if !usable { return nil }
    }
}

/// Go's duration text (`90s`, `1m30s`, `1.5h`, `500ms`), as Kubernetes' metav1.Duration fields hold it.
enum GoDuration {
    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        var total = 0.0
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("h", 3600), ("m", 60), ("s", 1),
        ]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return .nanoseconds(Int64((total * 1e9).rounded()))
    }
}
