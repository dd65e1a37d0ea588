import Crypto
import Files
import FoundationEssentials
import KubeAPI
import NetCore
import SwiftASN1
import X509

/// The embedded server's CA, serving certificate and admin token, created at first start and reused afterwards.
///
/// Files in the data directory, all mode 0600: `ca.crt`, `ca.key`, `server.crt`, `server.key`, `token`.
/// The serving certificate is re-issued when the requested SANs change. The token is never logged.
public struct ServerCredentials: Sendable {
    public var caPEM: String
    public var certificatePEM: String
    public var keyPEM: String
    public var token: String

    /// Loads or creates the credentials in `directory` for the given SANs.
    /// - Throws: when files cannot be written or the certificates cannot be built.
    public static func loadOrCreate(directory: String, addresses: [String], hostnames: [String]) async throws
        -> ServerCredentials
    {
        try FileIO.makeDirectory(directory)
        let caKeyPath = directory + "/ca.key"
        let caCertPath = directory + "/ca.crt"
        let caKey: P256.Signing.PrivateKey
        let caCert: Certificate
        if let keyBytes = FileIO.read(caKeyPath), let certBytes = FileIO.read(caCertPath),
            let key = try? P256.Signing.PrivateKey(pemRepresentation: String(decoding: keyBytes, as: UTF8.self)),
            let cert = try? Certificate(pemEncoded: String(decoding: certBytes, as: UTF8.self))
        {
            caKey = key
            caCert = cert
        } else {
            caKey = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("pylon-server-ca") }
            let now = Date()
            caCert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                },
                issuerPrivateKey: .init(caKey))
            try FileIO.write(Array(caKey.pemRepresentation.utf8), to: caKeyPath)
            try FileIO.write(Array(try caCert.serializeAsPEM().pemString.utf8), to: caCertPath)
        }

        let sanText = (addresses + hostnames).sorted().joined(separator: ",")
        let serverKeyPath = directory + "/server.key"
        let serverCertPath = directory + "/server.crt"
        let sanPath = directory + "/server.sans"
        var serverKeyPEM: String
        var serverCertPEM: String
        if let k = FileIO.read(serverKeyPath), let c = FileIO.read(serverCertPath),
            FileIO.read(sanPath) == Array(sanText.utf8)
        {
            serverKeyPEM = String(decoding: k, as: UTF8.self)
            serverCertPEM = String(decoding: c, as: UTF8.self)
        } else {
            let serverKey = P256.Signing.PrivateKey()
            var names: [GeneralName] = hostnames.map { .dnsName($0) }
            for a in addresses {
                if let ip = IPAddress(a)?.bytes {
                    names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
                }
            }
            let now = Date()
            let cert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(365 * 86400),
                issuer: caCert.subject, subject: try DistinguishedName { CommonName("pylon-server") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: .init(caKey))
            serverKeyPEM = serverKey.pemRepresentation
            serverCertPEM = try cert.serializeAsPEM().pemString
            try FileIO.write(Array(serverKeyPEM.utf8), to: serverKeyPath)
            try FileIO.write(Array(serverCertPEM.utf8), to: serverCertPath)
            try FileIO.write(Array(sanText.utf8), to: sanPath)
        }

        let tokenPath = directory + "/token"
        let token: String
        if let t = FileIO.read(tokenPath), t.count >= 32 {
            token = String(decoding: t, as: UTF8.self).trimmed()
        } else {
            var rng = SystemRandomNumberGenerator()
            token = Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
            try FileIO.write(Array(token.utf8), to: tokenPath)
        }
        return ServerCredentials(
            caPEM: try caCert.serializeAsPEM().pemString, certificatePEM: serverCertPEM, keyPEM: serverKeyPEM,
            token: token)
    }

    /// An admin kubeconfig for `https://host:port`, embedding the CA and the token; written with mode 0600.
    public func writeKubeconfig(to path: String, server: String) throws {
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: pylon
              cluster:
                server: \(server)
                certificate-authority-data: \(Base64.encode(Array(caPEM.utf8)))
            users:
            - name: pylon-admin
              user:
                token: \(token)
            contexts:
            - name: pylon
              context:
                cluster: pylon
                user: pylon-admin
                namespace: default
            current-context: pylon

            """
        try FileIO.write(Array(text.utf8), to: path)
    }
}
