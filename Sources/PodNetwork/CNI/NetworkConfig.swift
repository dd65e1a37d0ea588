import KubeAPI
import OrderedCollections

/// The configuration of the `pylon` plugin, read from standard input: a bridge network as the reference `bridge`
/// plugin takes it (and as flannel delegates it in K3s), host-local IPAM, and the runtime's port mappings.
///
/// Without an `ipam` section the plugin is in flannel mode: the bridge settings may sit in `delegate` (so K3s'
/// `10-flannel.conflist` works with `"type": "pylon"` in place of `"flannel"`), and the addresses come from
/// `subnetFile` when `resolved(with:)` is given it.
///
/// Pure value.
public struct NetworkConfig: Sendable, Equatable {
    /// Where flannel mode finds the node's subnet, and where it keeps flannel's per-container record.
    public struct FlannelMode: Sendable, Equatable {
        public var subnetFile: String
        /// flannel's `dataDir`: one file per container holding the configuration its DEL needs.
        public var dataDirectory: String
        /// `ipam` routes given in the configuration, kept ahead of the cluster networks.
        public var routes: [CNIResult.RouteConfig]
        /// `ipam.dataDir`, when given.
        public var ipamDataDirectory: String?

        public static let defaultDataDirectory = "/var/lib/cni/flannel"
    }

    /// An attachment GC must keep (`cni.dev/valid-attachments`).
    public struct Attachment: Sendable, Hashable {
        public var containerID: String
        public var interfaceName: String

        public init(containerID: String, interfaceName: String) {
            self.containerID = containerID
            self.interfaceName = interfaceName
        }
    }

    public var cniVersion: String
    public var name: String
    public var bridge: String
    public var isGateway: Bool
    /// `isGateway` as written, when it was.
    private var gatewaySetting: Bool?
    public var isDefaultGateway: Bool
    public var forceAddress: Bool
    public var hairpinMode: Bool
    public var promiscuousMode: Bool
    /// nil: flannel mode takes FLANNEL_MTU; otherwise the kernel's default.
    public var mtu: Int?
    /// nil: flannel mode takes the opposite of FLANNEL_IPMASQ; otherwise off.
    public var ipMasquerade: Bool?
    /// Duplicate address detection for the pod's IPv6 addresses (`enabledad`); off by default, as in the
    /// reference plugin, so an address is usable at once.
    public var duplicateAddressDetection: Bool
    public var ipam: IPAMConfig?
    public var flannel: FlannelMode?
    /// The `dns` object, returned in the result as it is.
    public var dns: JSON
    public var portMappings: [PortMapping]
    public var previousResult: CNIResult?
    public var validAttachments: [Attachment]?

    /// The configuration's `cniVersion` (0.1.0 when it names none, as libcni reads it).
    /// - Throws: `CNIError.decodingFailure` when the input is not a JSON object or `cniVersion` is not a string.
    public static func version(of json: JSON) throws(CNIError) -> String {
        guard let object = json.objectValue else {
            throw CNIError(.decodingFailure, "the network configuration must be a JSON object, not \(json.typeName)")
        }
        guard let version = object["cniVersion"], !version.isNull else { return "0.1.0" }
        guard let text = version.stringValue else {
            throw CNIError(.decodingFailure, "cniVersion must be a string, not \(version.typeName)")
        }
        return text
    }

    /// Reads a whole configuration.
    /// - Throws: `CNIError` with `.invalidConfig` for a missing or malformed field, `.unsupportedField` for a
    ///   reference-plugin feature Pylon does not build (VLANs, MAC spoof checks, IPAM types other than host-local),
    ///   `.decodingFailure` for a malformed `prevResult`.
    public init(parsing json: JSON) throws(CNIError) {
        cniVersion = try Self.version(of: json)
        let top = try ConfigObject(json, path: "")
        guard let name = try top.string("name"), !name.isEmpty else {
            throw CNIError(.invalidConfig, "missing network name")
        }
        guard Self.isValidName(name) else {
            throw CNIError(.invalidConfig, "invalid characters found in network name", details: name)
        }
        self.name = name
        // Bridge settings come from `delegate` when it has them (flannel's form), else from the top.
        var merged = top.members
        if let delegate = try top.object("delegate") { merged.merge(delegate.members) { $1 } }
        let settings = ConfigObject(merged)
        let unsupported = [
            ("vlan", try settings.int("vlan", in: 0...4094).map { $0 != 0 }),
            ("vlanTrunk", settings.has("vlanTrunk")), ("macspoofchk", try settings.bool("macspoofchk")),
            ("disableContainerInterface", try settings.bool("disableContainerInterface")),
            ("portIsolation", try settings.bool("portIsolation")),
        ]
        for (key, isSet) in unsupported where isSet == true {
            throw CNIError(
                .unsupportedField, "\(key) is not supported by Pylon's plugin",
                details: "remove \(key) from the configuration")
        }
        bridge = try settings.string("bridge") ?? "cni0"
        guard !bridge.isEmpty, bridge.utf8.count <= 15, !bridge.contains("/"), !bridge.contains(where: \.isWhitespace)
        else {
            throw CNIError(
                .invalidConfig, "bridge \"\(bridge)\" is not an interface name (1 to 15 characters, no / or spaces)")
        }
        isDefaultGateway = try settings.bool("isDefaultGateway") ?? false
        gatewaySetting = try settings.bool("isGateway")
        isGateway = isDefaultGateway || (gatewaySetting ?? false)
        forceAddress = try settings.bool("forceAddress") ?? false
        hairpinMode = try settings.bool("hairpinMode") ?? false
        promiscuousMode = try settings.bool("promiscMode") ?? false
        if hairpinMode && promiscuousMode {
            throw CNIError(.invalidConfig, "hairpinMode and promiscMode cannot both be on")
        }
        mtu = (try settings.int("mtu", in: 0...65535)).flatMap { $0 == 0 ? nil : Int($0) }
        ipMasquerade = try settings.bool("ipMasq")
        duplicateAddressDetection = try settings.bool("enabledad") ?? false
        dns = top.members["dns"] ?? .object([:])
        let ipamObject = try top.object("ipam")
        if let ipamObject, ipamObject.has("ranges") || ipamObject.has("subnet") {
            ipam = try IPAMConfig(ipamObject)
        } else {
            var routes: [CNIResult.RouteConfig] = []
            for (i, item) in (try ipamObject?.array("routes") ?? []).enumerated() {
                routes.append(try CNIResult.RouteConfig(try ConfigObject(item, path: "ipam.routes[\(i)]")))
            }
            flannel = FlannelMode(
                subnetFile: try top.string("subnetFile") ?? SubnetEnv.defaultPath,
                dataDirectory: try top.string("dataDir") ?? FlannelMode.defaultDataDirectory, routes: routes,
                ipamDataDirectory: try ipamObject?.string("dataDir"))
        }
        var mappings: [PortMapping] = []
        if let runtime = try top.object("runtimeConfig") {
            for (i, item) in (try runtime.array("portMappings") ?? []).enumerated() {
                mappings.append(try PortMapping(try ConfigObject(item, path: "runtimeConfig.portMappings[\(i)]")))
            }
        }
        portMappings = mappings
        if let previous = top.members["prevResult"], !previous.isNull {
            previousResult = try CNIResult(json: previous)
        }
        if let attachments = try top.array("cni.dev/valid-attachments") {
            var valid: [Attachment] = []
            for (i, item) in attachments.enumerated() {
                let entry = try ConfigObject(item, path: "cni.dev/valid-attachments[\(i)]")
                guard let id = try entry.string("containerID"), let interface = try entry.string("ifname") else {
                    throw CNIError(.invalidConfig, "\(entry.path) needs containerID and ifname")
                }
                valid.append(Attachment(containerID: id, interfaceName: interface))
            }
            validAttachments = valid
        }
    }

    /// The configuration with flannel mode's gaps filled from the node's `subnet.env`, as flannel's plugin fills its
    /// delegate: the node's subnets as host-local ranges with a route to each cluster network, FLANNEL_MTU unless an
    /// MTU is set, masquerading only when flannel does not, and the bridge as gateway unless told otherwise.
    /// - Throws: `CNIError.invalidConfig` when the subnets cannot be ranges.
    public func resolved(with subnets: SubnetEnv) throws(CNIError) -> NetworkConfig {
        guard let flannel else { return self }
        var config = self
        config.ipam = try subnets.ipam(routes: flannel.routes, dataDirectory: flannel.ipamDataDirectory)
        config.mtu = mtu ?? subnets.mtu
        config.ipMasquerade = ipMasquerade ?? !subnets.flannelMasquerades
        config.isGateway = isDefaultGateway || (gatewaySetting ?? true)
        return config
    }

    /// CNI's rule for network names and container IDs: a letter or digit, then letters, digits, `_`, `.`, `-`.
    public static func isValidName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCIIAlphanumeric else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || $0 == "_" || $0 == "." || $0 == "-" }
    }
}

extension Unicode.Scalar {
    var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}
