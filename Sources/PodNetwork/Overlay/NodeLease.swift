import KubeAPI
import NetCore
import OrderedCollections

/// What one Node publishes to the overlay: its pod subnets (from `spec.podCIDRs`), the addresses other nodes reach
/// it at, and its backend with the backend's data — flannel's "lease", read from the Node as flannel's Kubernetes
/// subnet manager reads it.
///
/// Pure value.
public struct NodeLease: Sendable, Equatable {
    public var name: String
    /// The IPv4 and IPv6 pod subnets, each present when that family is enabled.
    public var subnet: IPNetwork?
    public var ipv6Subnet: IPNetwork?
    /// `public-ip` / `public-ipv6`.
    public var publicIP: IPAddress?
    public var publicIPv6: IPAddress?
    /// `backend-type` as written (another node may run a backend this one does not).
    public var backendType: String
    /// `backend-data` / `backend-v6-data` of a vxlan node.
    public var vxlan: FlannelAnnotations.VXLANData?
    public var vxlanV6: FlannelAnnotations.VXLANData?

    public init(
        name: String, subnet: IPNetwork?, ipv6Subnet: IPNetwork? = nil, publicIP: IPAddress?,
        publicIPv6: IPAddress? = nil, backendType: String, vxlan: FlannelAnnotations.VXLANData? = nil,
        vxlanV6: FlannelAnnotations.VXLANData? = nil
    ) {
        self.name = name
        self.subnet = subnet
        self.ipv6Subnet = ipv6Subnet
        self.publicIP = publicIP
        self.publicIPv6 = publicIPv6
        self.backendType = backendType
        self.vxlan = vxlan
        self.vxlanV6 = vxlanV6
    }

    /// The pod subnets of a Node, one per enabled family, each inside its cluster network.
    /// - Throws: `.podCIDRNotAssigned` when the Node has none (yet) for an enabled family, `.podCIDROutsideNetwork`
    ///   when one lies outside the network of `conf`.
    public static func subnets(of node: JSON, conf: NetConf) throws(OverlayError) -> (
        ipv4: IPNetwork?, ipv6: IPNetwork?
    ) {
        let name = node["metadata"]?["name"]?.stringValue ?? ""
        var texts = (node["spec"]?["podCIDRs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if texts.isEmpty, let single = node["spec"]?["podCIDR"]?.stringValue, !single.isEmpty { texts = [single] }
        let cidrs = texts.compactMap { IPNetwork($0) }
        func pick(_ family: IPFamily, network: IPNetwork?) throws(OverlayError) -> IPNetwork? {
            guard let network else { return nil }
            guard let cidr = cidrs.first(where: { $0.family == family }) else {
                throw OverlayError(
                    .podCIDRNotAssigned,
                    texts.isEmpty
                        ? "node \"\(name)\" pod cidr not assigned"
                        : "node \"\(name)\" has no \(family.rawValue) pod CIDR in \(texts)")
            }
            guard cidr.prefixLength >= network.prefixLength, network.contains(cidr.address) else {
                throw OverlayError(
                    .podCIDROutsideNetwork,
                    "node \"\(name)\" pod CIDR \(cidr) lies outside the cluster network \(network)")
            }
            return cidr
        }
        return (
            try pick(.ipv4, network: conf.enableIPv4 ? conf.network : nil),
            try pick(.ipv6, network: conf.enableIPv6 ? conf.ipv6Network : nil)
        )
    }

    /// Reads another Node's lease. `nil` when the Node has not published one (no `kube-subnet-manager: "true"`
    /// annotation yet), as flannel ignores such Nodes.
    /// - Throws: `OverlayError` (`.podCIDRNotAssigned`, `.podCIDROutsideNetwork`, `.invalidPublicIP`,
    ///   `.invalidBackendData`) naming the Node and the value, so it can be skipped with an Event.
    public init?(node: JSON, conf: NetConf) throws(OverlayError) {
        let annotations = node["metadata"]?["annotations"]
        func annotation(_ key: String) -> String? { annotations?[key]?.stringValue }
        guard annotation(FlannelAnnotations.kubeSubnetManager) == "true" else { return nil }
        let name = node["metadata"]?["name"]?.stringValue ?? ""
        let (subnet, ipv6Subnet) = try Self.subnets(of: node, conf: conf)
        let type = annotation(FlannelAnnotations.backendType) ?? ""
        func address(_ key: String, _ family: IPFamily) throws(OverlayError) -> IPAddress {
            let text = annotation(key) ?? ""
            guard let ip = IPAddress(text), ip.family == family else {
                throw OverlayError(
                    .invalidPublicIP,
                    "node \"\(name)\" annotation \(key) \(FlannelAnnotations.VXLANData.quoted(text)) is not an "
                        + "\(family.rawValue) address")
            }
            return ip
        }
        func data(_ key: String) throws(OverlayError) -> FlannelAnnotations.VXLANData? {
            guard type == "vxlan" else { return nil }
            do {
                return try FlannelAnnotations.VXLANData(annotation: annotation(key) ?? "")
            } catch {
                throw OverlayError(.invalidBackendData, "node \"\(name)\" annotation \(key): \(error.message)")
            }
        }
        self.init(
            name: name, subnet: subnet, ipv6Subnet: ipv6Subnet,
            publicIP: subnet == nil ? nil : try address(FlannelAnnotations.publicIP, .ipv4),
            publicIPv6: ipv6Subnet == nil ? nil : try address(FlannelAnnotations.publicIPv6, .ipv6),
            backendType: type,
            vxlan: subnet == nil ? nil : try data(FlannelAnnotations.backendData),
            vxlanV6: ipv6Subnet == nil ? nil : try data(FlannelAnnotations.backendV6Data))
    }

    /// The part of a Node the overlay reads: flannel's annotations, the pod CIDRs, the addresses and whether it is
    /// being deleted. Two versions of a Node with the same part need no new pass (a status heartbeat changes none
    /// of it).
    public static func overlayPart(of node: JSON) -> JSON {
        var annotations: JSON = [:]
        for (key, value) in node["metadata"]?["annotations"]?.objectValue ?? [:]
        where key.hasPrefix(FlannelAnnotations.prefix) {
            annotations[key] = value
        }
        return [
            "annotations": annotations, "podCIDR": node["spec"]?["podCIDR"] ?? .null,
            "podCIDRs": node["spec"]?["podCIDRs"] ?? .null, "addresses": node["status"]?["addresses"] ?? .null,
            "deleting": node["metadata"]?["deletionTimestamp"] ?? .null,
        ]
    }
}
