import Foundation
import NIOCore
import NIOPosix

/// Finding and running the built `pylon` executable in tests.
public enum PylonBinary {
    /// `$PYLON_BINARY`, else `.build/debug/pylon` in the package.
    public static var path: String {
        if let p = ProcessInfo.processInfo.environment["PYLON_BINARY"], !p.isEmpty { return p }
        return packageRoot + "/.build/debug/pylon"
    }

    /// The package root (three levels above this file's folder, `Sources/TestSupport/PylonTestSupport`).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// A loopback TCP port that was free a moment ago.
    public static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    /// Starts `pylon server` as a separate process and waits until its kubeconfig is written.
    public static func startServer(dataDirectory: String, port: Int, extra: [String] = []) async throws
        -> BackgroundProcess
    {
        try? FileManager.default.removeItem(atPath: dataDirectory + "/kubeconfig.yaml")
        let process = try BackgroundProcess(
            path, ["server", "--data-dir", dataDirectory, "--port", String(port), "--log-level", "warning"] + extra)
        do {
            try await eventually("pylon server ready", timeout: .seconds(30)) {
                FileManager.default.fileExists(atPath: dataDirectory + "/kubeconfig.yaml")
            }
        } catch {
            process.kill()
            throw TestFailure("pylon server did not start: \(process.text)")
        }
        return process
    }
}
