import CNI
import Files
import KubeAPI
import OrderedCollections
import Overlay

/// The files a node's overlay writes for its CNI plugin: `subnet.env` (flannel's format) and the conflist naming
/// the `pylon` plugin in flannel mode, each written whole (temporary file and rename), so a plugin running at that
/// moment reads the old or the new one.
///
/// Stateless; every failure is `OverlayError.fileWrite` naming the path.
enum OverlayFiles {
    /// The CNI network list, as K3s writes flannel's with the plugin type changed: the bridge settings flannel
    /// delegates, host ports by the plugin itself. A `subnetFile` other than flannel's default, and a `dataDirectory`
    /// (per-pod records in `flannel/`, address reservations in `networks/`), are named in the plugin's entry.
    static func conflist(subnetFile: String, dataDirectory: String?) -> String {
        var plugin: OrderedDictionary<String, JSON> = [
            "type": "pylon",
            "delegate": ["hairpinMode": true, "forceAddress": true, "isDefaultGateway": true],
            "capabilities": ["portMappings": true],
        ]
        if subnetFile != SubnetEnv.defaultPath { plugin["subnetFile"] = .string(subnetFile) }
        if let dataDirectory {
            plugin["dataDir"] = .string(dataDirectory + "/flannel")
            plugin["ipam"] = ["dataDir": .string(dataDirectory + "/networks")]
        }
        let list: JSON = ["name": "cbr0", "cniVersion": "1.0.0", "plugins": [.object(plugin)]]
        return String(decoding: list.serialized(), as: UTF8.self) + "\n"
    }

    /// The conflist's file name (CNI runtimes take the first in lexical order).
    static let conflistName = "10-pylon.conflist"

    static func write(_ env: SubnetEnv, to path: String) throws(OverlayError) {
        try write(env.rendered, to: path)
    }

    static func writeConflist(in directory: String, subnetFile: String, dataDirectory: String?) throws(OverlayError) {
        try write(conflist(subnetFile: subnetFile, dataDirectory: dataDirectory), to: directory + "/" + conflistName)
    }

    /// Writes `text` unless the file already holds exactly that.
    private static func write(_ text: String, to path: String) throws(OverlayError) {
        let bytes = Array(text.utf8)
        if FileIO.read(path) == bytes { return }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        do {
            if !directory.isEmpty { try FileIO.makeDirectory(directory, mode: 0o755) }
            try FileIO.write(bytes, to: path, mode: 0o644)
        } catch {
            throw OverlayError(.fileWrite, "cannot write \(path): \(error)")
        }
    }
}
