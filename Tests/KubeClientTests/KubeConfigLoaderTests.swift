import Foundation
import KubeAPI
import KubeClient
import Testing

@Suite struct KubeConfigLoaderTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kcl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test func mergesKubeconfigListFirstWins() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let a = try write(
            "a",
            """
            apiVersion: v1
            kind: Config
            current-context: first
            clusters:
            - name: c1
              cluster: {server: "https://192.0.2.1:6443", tls-server-name: api.example, insecure-skip-tls-verify: false}
            users:
            - name: u1
              user: {tokenFile: tok}
            contexts:
            - name: first
              context: {cluster: c1, user: u1, namespace: team}
            """)
        let b = try write(
            "b",
            """
            apiVersion: v1
            kind: Config
            current-context: second
            clusters:
            - name: c1
              cluster: {server: "https://198.51.100.1:6443"}
            - name: c2
              cluster: {server: "https://[2001:db8::1]:6443", insecure-skip-tls-verify: true, certificate-authority-data: \(Base64.encode(Array("CA".utf8)))}
            users:
            - name: u2
              user: {token: secret-token}
            contexts:
            - name: second
              context: {cluster: c2, user: u2}
            """)
        _ = try write("tok", "file-token\n")
        let loader = KubeConfigLoader(environment: ["KUBECONFIG": "\(a):\(directory)/missing:\(b)"])
        let first = try loader.load()
        #expect(first.server == "https://192.0.2.1:6443", "first file's c1 wins")
        #expect(first.namespace == "team")
        #expect(first.tlsServerName == "api.example")
        #expect(!first.insecureSkipTLSVerify)
        guard case .tokenFile(let path) = first.credentials else {
            Issue.record("expected a token file")
            return
        }
        #expect(path == directory + "/tok", "relative to the kubeconfig")
        #expect(!first.description.contains("file-token"))

        let second = try loader.load(context: "second")
        #expect(second.server == "https://[2001:db8::1]:6443")
        #expect(second.insecureSkipTLSVerify)
        #expect(second.certificateAuthorityPEM == Array("CA".utf8))
        #expect(second.namespace == "default")
        #expect(!second.description.contains("secret-token"))

        #expect(throws: ConfigurationError.self) { try loader.load(context: "nope") }
        #expect(throws: ConfigurationError.self) {
            try KubeConfigLoader(environment: ["KUBECONFIG": directory + "/none"], home: directory).load()
        }
    }

    @Test func inClusterWithIPv6Host() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try write("token", "sa-token")
        _ = try write("namespace", "pylon-system\n")
        _ = try write("ca.crt", "CA")
        let loader = KubeConfigLoader(
            environment: ["KUBERNETES_SERVICE_HOST": "2001:db8::10", "KUBERNETES_SERVICE_PORT": "443"], home: directory,
            serviceAccountDirectory: directory)
        let c = try loader.load()
        #expect(c.server == "https://[2001:db8::10]:443")
        #expect(c.namespace == "pylon-system")
        #expect(c.certificateAuthorityPEM == Array("CA".utf8))
        guard case .tokenFile = c.credentials else {
            Issue.record("in-cluster uses the rotating token file")
            return
        }
    }
}
