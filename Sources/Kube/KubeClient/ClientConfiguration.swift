/// Where and how to reach a Kubernetes API server: the result of reading a kubeconfig or the in-cluster
/// service account.
///
/// Secrets (token, key) are held in memory only and never printed: `description` redacts them.
public struct ClientConfiguration: Sendable, CustomStringConvertible {
    /// How the client authenticates.
    public enum Credentials: Sendable {
        case none
        case token(String)
        /// A token re-read from this file when it changes (service account tokens rotate).
        case tokenFile(String)
        case clientCertificate(certificatePEM: [UInt8], keyPEM: [UInt8])
    }

    /// `https://host:port` (or `http://`), without a trailing slash.
    public var server: String
    /// PEM bundle of trusted CAs; the system store when `nil`.
    public var certificateAuthorityPEM: [UInt8]?
    public var credentials: Credentials
    /// The name to verify in the server's certificate instead of the URL host.
    public var tlsServerName: String?
    /// Only true when a kubeconfig says `insecure-skip-tls-verify: true`.
    public var insecureSkipTLSVerify: Bool
    /// The namespace of the context (or of the pod in cluster); `default` when unset.
    public var namespace: String
    /// Client-side rate limit (requests per second, burst).
    public var qps: Double
    public var burst: Int

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, credentials: Credentials = .none,
        tlsServerName: String? = nil, insecureSkipTLSVerify: Bool = false, namespace: String = "default",
        qps: Double = 50, burst: Int = 100
    ) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.credentials = credentials
        self.tlsServerName = tlsServerName
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.namespace = namespace
        self.qps = qps
        self.burst = burst
    }

    public var description: String {
        let auth: String
        switch credentials {
        case .none: auth = "none"
        case .token: auth = "token (redacted)"
        case .tokenFile(let path): auth = "token file \(path)"
        case .clientCertificate: auth = "client certificate"
        }
        return "server=\(server) auth=\(auth) namespace=\(namespace) insecure=\(insecureSkipTLSVerify)"
    }
}
