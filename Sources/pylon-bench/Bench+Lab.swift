import Foundation
import Lab

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
}
