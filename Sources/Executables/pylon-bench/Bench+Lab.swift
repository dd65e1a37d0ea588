import Foundation
import Lab
import LabRuntime

extension Bench {
    /// Runs `body` with a fresh lab of `hosts` on the management link — namespaces `<family>-<random>`, after
    /// sweeping what an earlier run of the same family left — and a scratch directory; removes both afterwards,
    /// also when `body` throws.
    static func withLab<T>(
        _ family: String, hosts: [String], _ body: (LabNetwork, String) async throws -> T
    ) async throws -> T {
        LabNetwork.sweep(prefixFamily: family, olderThan: 0)
        let prefix = "\(family)-\(String(UInt32.random(in: 0..<UInt32.max), radix: 36))"
        let lab = LabNetwork(topology: LabTopology(prefix: prefix, hosts: hosts, management: true))
        defer { lab.down() }
        try lab.up()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pylon-bench-\(prefix)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(lab, directory)
    }

    /// Routes BIRD in `host` (control socket `socket`) holds from its protocol `protocolName`, as
    /// `birdc show route count protocol …` says ("N of M routes for K networks …").
    static func birdRoutes(_ lab: LabNetwork, _ host: String, socket: String, protocol protocolName: String) throws
        -> Int
    {
        let text = try lab.exec(host, ["birdc", "-s", socket, "show", "route", "count", "protocol", protocolName])
            .output
        let line = text.split(separator: "\n").first { $0.contains(" routes for ") } ?? ""
        return Int(line.split(separator: " ").first ?? "") ?? 0
    }
}
