import KubeAPI

/// The resources kube-apiserver has without any CRD, as far as Pylon serves them.
enum BuiltinResources {
    private static let metadata: PatchSchema = .object([
        "finalizers": .mergeList(key: nil),
        "ownerReferences": .mergeList(key: "uid"),
    ])

    private static let conditions: PatchSchema = .mergeList(key: "type")

    private static let container: [String: PatchSchema] = [
        "ports": .mergeList(key: "containerPort"),
        "env": .mergeList(key: "name"),
        "volumeMounts": .mergeList(key: "mountPath"),
        "volumeDevices": .mergeList(key: "devicePath"),
    ]

    private static let podSpec: PatchSchema = .object([
        "containers": .mergeList(key: "name", fields: container),
        "initContainers": .mergeList(key: "name", fields: container),
        "ephemeralContainers": .mergeList(key: "name", fields: container),
        "volumes": .mergeList(key: "name"),
        "imagePullSecrets": .mergeList(key: "name"),
        "hostAliases": .mergeList(key: "ip"),
    ])

    private static func schema(spec: PatchSchema? = nil, status: PatchSchema? = nil, extra: [String: PatchSchema] = [:])
        -> PatchSchema
    {
        var fields = extra
        fields["metadata"] = metadata
        if let spec { fields["spec"] = spec }
        if let status { fields["status"] = status }
        return .object(fields)
    }

    private static func make(
        _ group: String, _ version: String, _ kind: String, _ plural: String, namespaced: Bool, status: Bool = false,
        short: [String] = [], categories: [String] = [], behaviour: ResourceType.Behaviour = .generic,
        patch: PatchSchema = schema()
    ) -> ResourceType {
        ResourceType(
            group: group, versions: [.init(name: version, schema: nil, printerColumns: [], hasStatus: status)],
            storageVersion: version, kind: kind, plural: plural, singular: kind.lowercased(), namespaced: namespaced,
            shortNames: short, categories: categories, hasStatus: status, behaviour: behaviour, patchSchema: patch)
    }

    static let all: [ResourceType] = [
        make(
            "", "v1", "Namespace", "namespaces", namespaced: false, status: true, short: ["ns"], behaviour: .namespace,
            patch: schema(
                spec: .object(["finalizers": .mergeList(key: nil)]), status: .object(["conditions": conditions]))),
        make(
            "", "v1", "Service", "services", namespaced: true, status: true, short: ["svc"], categories: ["all"],
            behaviour: .service,
            patch: schema(
                spec: .object(["ports": .mergeList(key: "port")]), status: .object(["conditions": conditions]))),
        make(
            "", "v1", "Node", "nodes", namespaced: false, status: true, short: ["no"], behaviour: .node,
            patch: schema(
                spec: .object(["taints": .mergeList(key: "key"), "podCIDRs": .mergeList(key: nil)]),
                status: .object(["conditions": conditions, "addresses": .mergeList(key: "type")]))),
        make(
            "", "v1", "Pod", "pods", namespaced: true, status: true, short: ["po"], categories: ["all"],
            behaviour: .pod,
            patch: schema(spec: podSpec, status: .object(["conditions": conditions, "podIPs": .mergeList(key: "ip")]))),
        make("", "v1", "Endpoints", "endpoints", namespaced: true, short: ["ep"], behaviour: .endpoints),
        make("", "v1", "Event", "events", namespaced: true, short: ["ev"], behaviour: .event),
        make("", "v1", "Secret", "secrets", namespaced: true, behaviour: .secret),
        make("", "v1", "ConfigMap", "configmaps", namespaced: true, short: ["cm"], behaviour: .configMap),
        make(
            "", "v1", "ServiceAccount", "serviceaccounts", namespaced: true, short: ["sa"], behaviour: .serviceAccount,
            patch: schema(extra: ["secrets": .mergeList(key: "name"), "imagePullSecrets": .mergeList(key: "name")])),
        make("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", namespaced: true, behaviour: .endpointSlice),
        make("coordination.k8s.io", "v1", "Lease", "leases", namespaced: true, behaviour: .lease),
        make("events.k8s.io", "v1", "Event", "events", namespaced: true, short: ["ev"], behaviour: .event),
        make(
            "apps", "v1", "Deployment", "deployments", namespaced: true, status: true, short: ["deploy"],
            categories: ["all"], behaviour: .deployment,
            patch: schema(
                spec: .object(["template": .object(["spec": podSpec])]), status: .object(["conditions": conditions]))),
        make(
            "apps", "v1", "DaemonSet", "daemonsets", namespaced: true, status: true, short: ["ds"], categories: ["all"],
            behaviour: .daemonSet,
            patch: schema(
                spec: .object(["template": .object(["spec": podSpec])]), status: .object(["conditions": conditions]))),
        make("rbac.authorization.k8s.io", "v1", "Role", "roles", namespaced: true),
        make("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", namespaced: true),
        make("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced: false),
        make("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced: false),
        make(
            "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced: false,
            status: true, short: ["crd", "crds"], behaviour: .customResourceDefinition,
            patch: schema(status: .object(["conditions": conditions]))),
    ]
}
