import KubeAPI
import NetCore

/// The Node annotations flannel's Kubernetes subnet manager reads and writes (prefix `flannel.alpha.coreos.com/`),
/// which Pylon's overlay reads and writes the same way so flannel and Pylon nodes can share a cluster.
///
/// Pure namespace of constants and codecs.
public enum FlannelAnnotations {
    public static let prefix = "flannel.alpha.coreos.com/"
    /// `"true"` once the node's overlay has published its lease; other nodes ignore it until then.
    public static let kubeSubnetManager = prefix + "kube-subnet-manager"
    /// `vxlan` or `host-gw`.
    public static let backendType = prefix + "backend-type"
    /// `{"VNI":1,"VtepMAC":"…"}` for vxlan (`null` for host-gw); `backend-v6-data` for the IPv6 device.
    public static let backendData = prefix + "backend-data"
    public static let backendV6Data = prefix + "backend-v6-data"
    /// The address other nodes send to (the VTEP's, or the host-gw next hop).
    public static let publicIP = prefix + "public-ip"
    public static let publicIPv6 = prefix + "public-ipv6"
    /// Set by an administrator: publish this address instead of the detected one.
    public static let publicIPOverwrite = prefix + "public-ip-overwrite"
    public static let publicIPv6Overwrite = prefix + "public-ipv6-overwrite"
    /// Set by an administrator: the node's own public address, read at start instead of detecting it.
    public static let nodePublicIP = prefix + "node-public-ip"
    public static let nodePublicIPv6 = prefix + "node-public-ipv6"

    /// The vxlan backend's data: the VNI and the MAC of the node's VXLAN device.
    public struct VXLANData: Sendable, Equatable {
        public var vni: UInt32
        public var vtepMAC: MACAddress

        public init(vni: UInt32, vtepMAC: MACAddress) {
            self.vni = vni
            self.vtepMAC = vtepMAC
        }

        /// The annotation's text, byte for byte as flannel writes it: `{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}`.
        public var annotation: String { "{\"VNI\":\(vni),\"VtepMAC\":\"\(vtepMAC)\"}" }

        /// Reads the annotation (keys without regard to case, as flannel's decoder).
        /// - Throws: `OverlayError.invalidBackendData` saying what is wrong.
        public init(annotation text: String) throws(OverlayError) {
            guard let json = try? JSONParser.parse(text), let object = json.objectValue else {
                throw OverlayError(.invalidBackendData, "backend-data \(Self.quoted(text)) is not a JSON object")
            }
            func value(_ key: String) -> JSON? {
                object.first { $0.key.lowercased() == key.lowercased() }?.value
            }
            guard let macText = value("VtepMAC")?.stringValue, let mac = MACAddress(macText) else {
                throw OverlayError(
                    .invalidBackendData,
                    "backend-data \(Self.quoted(text)) has no VtepMAC of the form aa:bb:cc:dd:ee:ff")
            }
            let vni = value("VNI")?.intValue ?? 0
            guard (0...16_777_215).contains(vni) else {
                throw OverlayError(.invalidBackendData, "backend-data \(Self.quoted(text)) has VNI \(vni) out of range")
            }
            self.init(vni: UInt32(vni), vtepMAC: mac)
        }

        /// At most 64 characters of untrusted text, for messages.
        static func quoted(_ text: String) -> String {
            "\"" + (text.count > 64 ? String(text.prefix(64)) + "…" : text) + "\""
        }
    }
}

extension FlannelAnnotations {
    /// The annotations a node's overlay publishes on its Node, as flannel writes them: backend type and data per
    /// enabled family, the public address (an administrator's `public-ip-overwrite` wins over `publicIP`), and
    /// `kube-subnet-manager: "true"` last, which tells other nodes the lease is complete.
    ///
    /// - Parameter existing: the Node's current annotations (for the overwrite annotations).
    public static func published(
        backend: OverlayBackend, publicIP: IPAddress?, publicIPv6: IPAddress?, vtepMAC: MACAddress?,
        vtepMACv6: MACAddress?, existing: [String: String]
    ) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = [(backendType, backend.kind.rawValue)]
        func data(_ mac: MACAddress?) -> String {
            guard backend.kind == .vxlan, let mac else { return "null" }
            return VXLANData(vni: backend.vni, vtepMAC: mac).annotation
        }
        if let publicIP {
            out.append((backendData, data(vtepMAC)))
            let overwrite = existing[publicIPOverwrite].flatMap { IPAddress($0) }
            out.append((Self.publicIP, (overwrite ?? publicIP).description))
        }
        if let publicIPv6 {
            out.append((backendV6Data, data(vtepMACv6)))
            let overwrite = existing[publicIPv6Overwrite].flatMap { IPAddress($0) }
            out.append((Self.publicIPv6, (overwrite ?? publicIPv6).description))
        }
        out.append((kubeSubnetManager, "true"))
        return out
    }
}
