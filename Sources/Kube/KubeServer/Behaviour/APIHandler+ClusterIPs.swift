import KubeAPI
import NetCore

extension APIHandler {
    /// Defaults `ipFamilyPolicy`, `ipFamilies`, `clusterIP` and `clusterIPs` of a Service and reserves its cluster
    /// IPs, following kube-apiserver's dual-stack rules: the first family is primary and immutable, cluster IPs are
    /// immutable once assigned, a secondary family is added or removed when the policy changes.
    ///
    /// On error nothing stays reserved.
    func assignClusterIPs(
        old: JSON?, spec: inout JSON, invalid: (String, String, String) -> Status
    ) throws(Status) {
        let oldSpec = old?["spec"]
        let policy = spec["ipFamilyPolicy"]?.stringValue ?? "SingleStack"
        let policies = ["SingleStack", "PreferDualStack", "RequireDualStack"]
        guard policies.contains(policy) else {
            throw invalid(
                "FieldValueNotSupported",
                "Unsupported value: \"\(policy)\": supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\"",
                "spec.ipFamilyPolicy")
        }
        if policy == "RequireDualStack", !clusterIPs.isDualStack {
            throw invalid(
                "FieldValueInvalid",
                "Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services",
                "spec.ipFamilyPolicy")
        }

        // Requested families, each one configured on this cluster.
        var requestedFamilies: [IPFamily] = []
        for (i, f) in (spec["ipFamilies"]?.arrayValue ?? []).enumerated() {
            let text = f.stringValue ?? ""
            guard let family = IPFamily(rawValue: text) else {
                throw invalid(
                    "FieldValueNotSupported", "Unsupported value: \"\(text)\": supported values: \"IPv4\", \"IPv6\"",
                    "spec.ipFamilies[\(i)]")
            }
            guard !requestedFamilies.contains(family), i < 2 else {
                throw invalid("FieldValueDuplicate", "Duplicate value: \"\(text)\"", "spec.ipFamilies[\(i)]")
            }
            if clusterIPs.allocator(for: family) == nil {
                if i == 1, policy == "PreferDualStack" { break }
                throw invalid(
                    "FieldValueInvalid", "Invalid value: \"\(text)\": not configured on this cluster",
                    "spec.ipFamilies[\(i)]")
            }
            requestedFamilies.append(family)
        }

        // Requested addresses: clusterIPs, or clusterIP alone, or (on update) what the Service already has.
        let oldIPs = (oldSpec?["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        var requested = (spec["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
        if let single = spec["clusterIP"]?.stringValue, !single.isEmpty {
            if requested.isEmpty {
                requested = [single]
            } else if requested[0] != single {
                throw invalid(
                    "FieldValueInvalid",
                    "Invalid value: \(requested): must have the same value as spec.clusterIP", "spec.clusterIPs")
            }
        }
        if requested.isEmpty { requested = oldIPs }
        if let first = oldIPs.first, requested.first != first {
            throw invalid(
                "FieldValueInvalid", "Invalid value: \"\(requested.first ?? "")\": field is immutable",
                "spec.clusterIPs[0]")
        }
        let headless = requested.first == "None"
        var parsed: [IPAddress] = []
        if !headless {
            for (i, text) in requested.enumerated() {
                guard let ip = IPAddress(text) else {
                    throw invalid(
                        "FieldValueInvalid",
                        "Invalid value: \"\(text)\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        "spec.clusterIPs[\(i)]")
                }
                parsed.append(ip)
            }
        }

        // The Service's families: primary from ipFamilies, else from its first address, else the cluster's.
        let oldFamilies = (oldSpec?["ipFamilies"]?.arrayValue ?? []).compactMap {
            $0.stringValue.flatMap(IPFamily.init)
        }
        let primary = requestedFamilies.first ?? parsed.first?.family ?? oldFamilies.first ?? clusterIPs.primary
        if let oldPrimary = oldFamilies.first, oldPrimary != primary {
            throw invalid(
                "FieldValueInvalid", "Invalid value: \"\(primary.rawValue)\": field is immutable", "spec.ipFamilies[0]")
        }
        guard clusterIPs.allocator(for: primary) != nil else {
            throw invalid(
                "FieldValueInvalid", "Invalid value: \"\(primary.rawValue)\": not configured on this cluster",
                "spec.ipFamilies[0]")
        }
        var families = [primary]
        if policy != "SingleStack", clusterIPs.isDualStack {
            families.append(clusterIPs.families.first { $0 != primary }!)
        }
        if parsed.count > families.count {
            throw invalid(
                "FieldValueInvalid",
                "Invalid value: \(requested): may only hold \(families.count) value(s) for ipFamilyPolicy \(policy)",
                "spec.clusterIPs")
        }
        for (i, ip) in parsed.enumerated() where ip.family != families[i] {
            throw invalid(
                "FieldValueInvalid",
                "Invalid value: \"\(ip)\": expected an \(families[i].rawValue) address to match ipFamilies[\(i)]",
                "spec.clusterIPs[\(i)]")
        }

        // Reserve what is new, keep what the Service holds, release what it no longer needs.
        var assigned: [String] = []
        if headless {
            assigned = ["None"]
        } else {
            var reserved: [IPAddress] = []
            func rollBack() { for ip in reserved { clusterIPs.allocator(for: ip.family)?.release(ip) } }
            for (i, family) in families.enumerated() {
                let allocator = clusterIPs.allocator(for: family)!
                if i < oldIPs.count, let held = IPAddress(oldIPs[i]), held.family == family {
                    if i < parsed.count, parsed[i] != held {
                        rollBack()
                        throw invalid(
                            "FieldValueInvalid", "Invalid value: \"\(parsed[i])\": field is immutable",
                            "spec.clusterIPs[\(i)]")
                    }
                    assigned.append(held.description)
                } else if i < parsed.count {
                    if let error = allocator.reserve(parsed[i]) {
                        rollBack()
                        throw invalid(
                            "FieldValueInvalid",
                            "Invalid value: \"\(parsed[i])\": failed to allocate IP \(parsed[i]): \(error)",
                            "spec.clusterIPs[\(i)]")
                    }
                    reserved.append(parsed[i])
                    assigned.append(parsed[i].description)
                } else if let ip = allocator.allocate() {
                    reserved.append(ip)
                    assigned.append(ip.description)
                } else {
                    rollBack()
                    throw .internalError("failed to allocate a serviceIP: \(family.rawValue) range is full")
                }
            }
            for text in oldIPs.dropFirst(families.count) {
                if let ip = IPAddress(text) { clusterIPs.allocator(for: ip.family)?.release(ip) }
            }
        }
        spec["clusterIP"] = .string(assigned[0])
        spec["clusterIPs"] = .array(assigned.map { .string($0) })
        spec["ipFamilies"] = .array(families.map { .string($0.rawValue) })
        spec["ipFamilyPolicy"] = .string(policy)
    }

    /// Releases every cluster IP `service` holds (nothing when `nil` or headless).
    func releaseClusterIPs(of service: JSON?) {
        guard let service else { return }
        for ip in Self.clusterIPs(of: service) { clusterIPs.allocator(for: ip.family)?.release(ip) }
    }

    /// The cluster IPs a stored Service holds (`clusterIPs`, or `clusterIP` in objects that lack the list).
    static func clusterIPs(of service: JSON) -> [IPAddress] {
        let list = (service["spec"]?["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        let texts = list.isEmpty ? [service["spec"]?["clusterIP"]?.stringValue].compactMap { $0 } : list
        return texts.compactMap(IPAddress.init)
    }
}
