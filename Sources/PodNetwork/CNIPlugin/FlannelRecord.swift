import CNI
import Glibc
import KubeAPI
import NetCore
import OrderedCollections

/// flannel's per-container record: in flannel mode ADD writes, as flannel's plugin does, the bridge configuration it
/// delegated to `<dataDir>/<containerID>` (mode 0600), and DEL removes it. With the record in place a node can go
/// back to flannel's plugin, whose DEL reads it to release the pod's address.
enum FlannelRecord {
    /// Writes the record of a resolved flannel-mode configuration.
    /// - Throws: `CNIError.ioFailure` naming the file.
    static func save(_ config: NetworkConfig, containerID: String) throws(CNIError) {
        guard let flannel = config.flannel, let ipam = config.ipam else { return }
        var ipamObject: JSONObject = ["type": "host-local"]
        ipamObject["ranges"] = .array(
            ipam.rangeSets.map { set in
                .array(set.ranges.map { .object(["subnet": .string($0.subnet.description)]) })
            })
        if !ipam.routes.isEmpty {
            ipamObject["routes"] = .array(ipam.routes.map(\.json))
        }
        if let directory = flannel.ipamDataDirectory { ipamObject["dataDir"] = .string(directory) }
        var record: JSONObject = ["cniVersion": .string(config.cniVersion)]
        record["forceAddress"] = .bool(config.forceAddress)
        record["hairpinMode"] = .bool(config.hairpinMode)
        record["ipMasq"] = .bool(config.ipMasquerade ?? false)
        record["ipam"] = .object(ipamObject)
        record["isDefaultGateway"] = .bool(config.isDefaultGateway)
        record["isGateway"] = .bool(config.isGateway)
        if let mtu = config.mtu { record["mtu"] = .int(Int64(mtu)) }
        record["name"] = .string(config.name)
        record["type"] = "bridge"
        try HostLocalStore.makeDirectories(flannel.dataDirectory)
        try HostLocalStore.writeFile(
            path(flannel, containerID), JSON.object(record).serialized(), exclusive: false)
    }

    /// The `ipam.dataDir` a record names, if the record exists and names one.
    static func ipamDataDirectory(_ flannel: NetworkConfig.FlannelMode, containerID: String) -> String? {
        guard let text = HostLocalStore.readFile(path(flannel, containerID)),
            let record = try? JSONParser.parse(text)
        else { return nil }
        return record[path: ["ipam", "dataDir"]]?.stringValue
    }

    /// Removes the record (absent is fine).
    static func remove(_ flannel: NetworkConfig.FlannelMode, containerID: String) {
        unlink(path(flannel, containerID))
    }

    /// The containers with a record.
    static func containers(_ flannel: NetworkConfig.FlannelMode) -> [String] {
        guard let dir = opendir(flannel.dataDirectory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if NetworkConfig.isValidName(name) { names.append(name) }
        }
        return names
    }

    private static func path(_ flannel: NetworkConfig.FlannelMode, _ containerID: String) -> String {
        flannel.dataDirectory + "/" + containerID
    }
}
