import Foundation
import KubeAPI

/// RBAC permissions as sets of `group resource verb` strings (`core` for the core group, subresources as RBAC names
/// them: `core services/status patch`): what `deploy/` grants a component, and what a component called, read from
/// its `pylon_kube_client_requests_total` series. Tests compare the two.
public enum DeployedRBAC {
    /// What the ClusterRole and Role named `role` grant in the rendering of `overlay` (`kubectl kustomize`).
    /// - Throws: `TestFailure` when kubectl fails or no such role exists.
    public static func granted(to role: String, overlay: String = "default") async throws -> Set<String> {
        let rendered = try await ChildProcess.run(
            "kubectl", ["kustomize", PylonBinary.packageRoot + "/deploy/overlays/" + overlay])
        guard rendered.status == 0 else { throw TestFailure("kubectl kustomize: \(rendered.standardError)") }
        var permissions: Set<String> = []
        var found = false
        for object in try YAMLToJSON.documents(rendered.standardOutput)
        where ["ClusterRole", "Role"].contains(object["kind"]?.stringValue ?? "")
            && object["metadata"]?["name"]?.stringValue == role
        {
            found = true
            for rule in object["rules"]?.arrayValue ?? [] {
                let strings = { (key: String) in rule[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            permissions.insert("\(group.isEmpty ? "core" : group) \(resource) \(verb)")
                        }
                    }
                }
            }
        }
        guard found else { throw TestFailure("no ClusterRole or Role \(role) in deploy/overlays/\(overlay)") }
        return permissions
    }

    /// What a component called, from its metrics text (every response code counts: the call was made).
    public static func used(metrics text: String) -> Set<String> {
        var permissions: Set<String> = []
        for sample in MetricSamples.parse(text).keys where sample.hasPrefix("pylon_kube_client_requests_total{") {
            func label(_ name: String) -> String? {
                guard let start = sample.range(of: "\(name)=\"") else { return nil }
                return String(sample[start.upperBound...].prefix { $0 != "\"" })
            }
            if let group = label("group"), let resource = label("resource"), let verb = label("verb") {
                permissions.insert("\(group) \(resource) \(verb)")
            }
        }
        return permissions
    }
}
