import KubeAPI
import NetCore
import OrderedCollections

/// flannel's `net-conf.json` (`/etc/kube-flannel/net-conf.json`, or what K3s writes for its embedded flannel): the
/// cluster network(s) and the backend.
///
/// Pure value. Keys are matched without regard to case, as flannel's Go decoder matches them.
public struct NetConf: Sendable, Equatable {
    /// `Network`: the IPv4 cluster network (required unless IPv4 is disabled).
    public var network: IPNetwork?
    /// `IPv6Network`.
    public var ipv6Network: IPNetwork?
    /// `EnableIPv4` (default true) and `EnableIPv6` (default false).
    public var enableIPv4: Bool
    public var enableIPv6: Bool
    /// `Backend`; absent means vxlan (K3s' default; flannel would fall back to the long-removed udp backend).
    public var backend: OverlayBackend

    public init(
        network: IPNetwork?, ipv6Network: IPNetwork? = nil, enableIPv4: Bool = true, enableIPv6: Bool = false,
        backend: OverlayBackend = OverlayBackend()
    ) {
        self.network = network
        self.ipv6Network = ipv6Network
        self.enableIPv4 = enableIPv4
        self.enableIPv6 = enableIPv6
        self.backend = backend
    }

    /// Parses and checks `net-conf.json`.
    ///
    /// `SubnetLen`, `SubnetMin`/`SubnetMax` and their IPv6 forms are accepted and not used: with the Kubernetes
    /// subnet manager each node's subnet is its Node's pod CIDR.
    /// - Throws: `OverlayError` `.invalidNetConf` (not JSON, a malformed or missing network, a value of the wrong
    ///   type) or `.unsupportedBackend` (wireguard, ipsec, udp or an unknown type), naming the key.
    public init(parsing text: String) throws(OverlayError) {
        let json: JSON
        do {
            json = try JSONParser.parse(text)
        } catch {
            throw OverlayError(.invalidNetConf, "net-conf.json is not JSON: \(error)")
        }
        guard let object = json.objectValue else {
            throw OverlayError(.invalidNetConf, "net-conf.json must hold a JSON object")
        }
        let top = Keys(object, path: "")
        enableIPv4 = try top.bool("EnableIPv4") ?? true
        enableIPv6 = try top.bool("EnableIPv6") ?? false
        network = try top.network("Network")
        ipv6Network = try top.network("IPv6Network")
        if enableIPv4, network?.family != .ipv4 {
            throw OverlayError(
                .invalidNetConf,
                network == nil
                    ? "net-conf.json: Network is required (an IPv4 CIDR such as 10.42.0.0/16) unless EnableIPv4 is false"
                    : "net-conf.json: Network \(network!) is not an IPv4 network")
        }
        if enableIPv6, ipv6Network?.family != .ipv6 {
            throw OverlayError(
                .invalidNetConf,
                ipv6Network == nil
                    ? "net-conf.json: IPv6Network is required when EnableIPv6 is true"
                    : "net-conf.json: IPv6Network \(ipv6Network!) is not an IPv6 network")
        }
        guard enableIPv4 || enableIPv6 else {
            throw OverlayError(.invalidNetConf, "net-conf.json: EnableIPv4 and EnableIPv6 are both false")
        }
        guard let backendJSON = top.value("Backend") else {
            backend = OverlayBackend()
            return
        }
        guard let backendObject = backendJSON.objectValue else {
            throw OverlayError(.invalidNetConf, "net-conf.json: Backend must be an object")
        }
        let b = Keys(backendObject, path: "Backend.")
        let type = try b.string("Type") ?? "udp"
        let kind: OverlayBackend.Kind
        switch type {
        case "vxlan": kind = .vxlan
        case "host-gw": kind = .hostGW
        case "wireguard", "wireguard-native":
            throw OverlayError(
                .unsupportedBackend,
                "net-conf.json: backend \"\(type)\" needs WireGuard in the kernel, and this kernel has none; "
                    + "use vxlan or host-gw")
        case "ipsec":
            throw OverlayError(
                .unsupportedBackend,
                "net-conf.json: backend \"ipsec\" was removed (flannel 0.25, K3s 1.27/1.28); use vxlan or host-gw")
        default:
            throw OverlayError(
                .unsupportedBackend, "net-conf.json: unknown backend type \"\(type)\"; Pylon runs vxlan and host-gw")
        }
        let vni = try b.integer("VNI", in: 0...16_777_215) ?? 1
        let port = try b.integer("Port", in: 0...65535) ?? 0
        let mtu = try b.integer("MTU", in: 0...65535) ?? 0
        if mtu != 0, kind == .vxlan, mtu < 1280 + OverlayBackend.vxlanOverheadIPv6, enableIPv6 {
            throw OverlayError(
                .invalidNetConf, "net-conf.json: Backend.MTU \(mtu) leaves pods less than IPv6's minimum of 1280")
        }
        backend = OverlayBackend(
            kind: kind, vni: UInt32(vni), port: UInt16(port), mtu: mtu,
            directRouting: try b.bool("DirectRouting") ?? false, groupPolicy: try b.bool("GBP") ?? false,
            learning: try b.bool("Learning") ?? false)
    }

    /// The keys of one JSON object, looked up without regard to case.
    private struct Keys {
        let object: JSONObject
        let path: String

        init(_ object: JSONObject, path: String) {
            self.object = object
            self.path = path
        }

        func value(_ key: String) -> JSON? {
            if let exact = object[key] { return exact }
            let lower = key.lowercased()
            return object.first { $0.key.lowercased() == lower }?.value
        }

        func bool(_ key: String) throws(OverlayError) -> Bool? {
            guard let v = value(key), v != .null else { return nil }
            guard let b = v.boolValue else {
                throw OverlayError(.invalidNetConf, "net-conf.json: \(path)\(key) must be true or false")
            }
            return b
        }

        func string(_ key: String) throws(OverlayError) -> String? {
            guard let v = value(key), v != .null else { return nil }
            guard let s = v.stringValue else {
                throw OverlayError(.invalidNetConf, "net-conf.json: \(path)\(key) must be a string")
            }
            return s
        }

        func integer(_ key: String, in range: ClosedRange<Int64>) throws(OverlayError) -> Int? {
            guard let v = value(key), v != .null else { return nil }
            guard let n = v.intValue, range.contains(n) else {
                throw OverlayError(
                    .invalidNetConf,
                    "net-conf.json: \(path)\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)"
                )
            }
            return Int(n)
        }

        func network(_ key: String) throws(OverlayError) -> IPNetwork? {
            guard let text = try string(key), !text.isEmpty else { return nil }
            guard let network = IPNetwork(text) else {
                throw OverlayError(.invalidNetConf, "net-conf.json: \(path)\(key) \"\(text)\" is not a CIDR")
            }
            return network
        }
    }
}
