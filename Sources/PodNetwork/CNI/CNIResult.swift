import KubeAPI
import NetCore
import OrderedCollections

/// What ADD returns (spec 1.1.0 §"Success"): the interfaces made, the addresses given with their gateways, the routes
/// and DNS settings. CHECK reads it back as `prevResult`.
///
/// Pure value; `json(version:)` writes it in the configuration's version (0.4.0 adds each address's `version`,
/// 1.1.0 each interface's `mtu`).
public struct CNIResult: Sendable, Equatable {
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var mac: String
        public var mtu: Int?
        /// The network namespace path, for an interface inside the pod.
        public var sandbox: String?

        public init(name: String, mac: String, mtu: Int? = nil, sandbox: String? = nil) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.sandbox = sandbox
        }
    }

    public struct IPConfig: Sendable, Equatable {
        public var address: IPAddress
        public var prefixLength: Int
        public var gateway: IPAddress?
        /// Index into `interfaces`.
        public var interface: Int?

        public init(address: IPAddress, prefixLength: Int, gateway: IPAddress?, interface: Int?) {
            self.address = address
            self.prefixLength = prefixLength
            self.gateway = gateway
            self.interface = interface
        }
    }

    public struct RouteConfig: Sendable, Equatable {
        public var destination: IPNetwork
        public var gateway: IPAddress?

        public init(destination: IPNetwork, gateway: IPAddress? = nil) {
            self.destination = destination
            self.gateway = gateway
        }

        /// Reads `{dst, gw}`.
        /// - Throws: `CNIError.invalidConfig` naming the field.
        init(_ object: ConfigObject) throws(CNIError) {
            guard let text = try object.string("dst"), let destination = IPNetwork(text) else {
                throw CNIError(.invalidConfig, "\(object.name("dst")) must be a CIDR")
            }
            self.destination = destination
            if let gw = try object.string("gw") {
                guard let gateway = IPAddress(gw), gateway.family == destination.family else {
                    throw CNIError(
                        .invalidConfig, "\(object.name("gw")) \"\(gw)\" is not an address of \(destination)'s family")
                }
                self.gateway = gateway
            }
        }

        /// `{dst, gw}`.
        public var json: JSON {
            var object: JSONObject = ["dst": .string(destination.description)]
            if let gateway { object["gw"] = .string(gateway.description) }
            return .object(object)
        }
    }

    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [RouteConfig]
    /// The `dns` object of the configuration, passed through.
    public var dns: JSON

    public init(interfaces: [Interface], ips: [IPConfig], routes: [RouteConfig], dns: JSON = .object([:])) {
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns
    }

    /// The result document in `version`.
    public func json(version: String) -> JSON {
        var object: JSONObject = ["cniVersion": .string(version)]
        object["interfaces"] = .array(
            interfaces.map { interface in
                var item: JSONObject = ["name": .string(interface.name), "mac": .string(interface.mac)]
                if version == "1.1.0", let mtu = interface.mtu { item["mtu"] = .int(Int64(mtu)) }
                if let sandbox = interface.sandbox { item["sandbox"] = .string(sandbox) }
                return .object(item)
            })
        object["ips"] = .array(
            ips.map { ip in
                var item: JSONObject = [:]
                if version == "0.4.0" { item["version"] = .string(ip.address.family == .ipv4 ? "4" : "6") }
                if let interface = ip.interface { item["interface"] = .int(Int64(interface)) }
                item["address"] = .string("\(ip.address)/\(ip.prefixLength)")
                if let gateway = ip.gateway { item["gateway"] = .string(gateway.description) }
                return .object(item)
            })
        if !routes.isEmpty { object["routes"] = .array(routes.map(\.json)) }
        object["dns"] = dns
        return .object(object)
    }

    /// Reads a result (a `prevResult`).
    /// - Throws: `CNIError.decodingFailure` naming what is malformed.
    public init(json: JSON) throws(CNIError) {
        do throws(CNIError) {
            let object = try ConfigObject(json, path: "prevResult")
            var interfaces: [Interface] = []
            for (i, item) in (try object.array("interfaces") ?? []).enumerated() {
                let entry = try ConfigObject(item, path: "prevResult.interfaces[\(i)]")
                interfaces.append(
                    Interface(
                        name: try entry.string("name") ?? "", mac: try entry.string("mac") ?? "",
                        mtu: (try entry.int("mtu", in: 0...65535)).map(Int.init), sandbox: try entry.string("sandbox")))
            }
            var ips: [IPConfig] = []
            for (i, item) in (try object.array("ips") ?? []).enumerated() {
                let entry = try ConfigObject(item, path: "prevResult.ips[\(i)]")
                guard let text = try entry.string("address"), let slash = text.firstIndex(of: "/"),
                    let address = IPAddress(text[..<slash]), let length = Int(text[text.index(after: slash)...]),
                    length >= 0, length <= address.family.bitWidth
                else {
                    throw CNIError(.decodingFailure, "\(entry.name("address")) must be an address with a prefix length")
                }
                let gateway = try entry.string("gateway").map { text throws(CNIError) in
                    guard let ip = IPAddress(text) else {
                        throw CNIError(.decodingFailure, "\(entry.name("gateway")) \"\(text)\" is not an IP address")
                    }
                    return ip
                }
                let interface = try entry.int("interface", in: 0...Int64(max(interfaces.count - 1, 0)))
                ips.append(
                    IPConfig(
                        address: address, prefixLength: length, gateway: gateway, interface: interface.map(Int.init)))
            }
            var routes: [RouteConfig] = []
            for (i, item) in (try object.array("routes") ?? []).enumerated() {
                routes.append(try RouteConfig(try ConfigObject(item, path: "prevResult.routes[\(i)]")))
            }
            self.init(interfaces: interfaces, ips: ips, routes: routes, dns: object.members["dns"] ?? .object([:]))
        } catch {
            throw CNIError(.decodingFailure, error.message)
        }
    }
}
