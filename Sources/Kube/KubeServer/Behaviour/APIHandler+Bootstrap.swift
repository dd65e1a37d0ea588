import KubeAPI
import Logging
import NetCore

extension APIHandler {
    /// Brings a fresh or restarted store to what a control plane always has: CRDs served, allocations rebuilt (Nodes
    /// still without pod CIDRs get them when the cluster CIDRs allow), the system namespaces, and the `kubernetes`
    /// Service at the first service IP.
    public func bootstrap() async throws(Status) {
        for (_, stored) in storage.list(WatchFilter(prefix: "apiextensions.k8s.io/customresourcedefinitions")).items {
            if let custom = ResourceType(crd: stored.json) { registry.install(custom) }
        }
        rebuildAllocations()
        rebuildPodCIDRs()
        await assignWaitingPodCIDRs()
        let namespaces = registry.lookup(group: "", plural: "namespaces")!
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let key = ObjectKey(prefix: namespaces.storagePrefix, namespace: "", name: name)
            guard storage.get(key) == nil else { continue }
            var ns: JSON = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": ["name": .string(name), "labels": ["kubernetes.io/metadata.name": .string(name)]],
            ]
            ns[path: ["metadata", "uid"]] = .string(UUIDGenerator.v4())
            ns[path: ["metadata", "creationTimestamp"]] = .string(now())
            let prepared = try prepareForCreate(ns, resource: namespaces)
            _ = try await storage.write(key) { current throws(Status) in current == nil ? .put(prepared) : .unchanged }
        }
        let services = registry.lookup(group: "", plural: "services")!
        let key = ObjectKey(prefix: services.storagePrefix, namespace: "default", name: "kubernetes")
        if storage.get(key) == nil {
            var svc: JSON = [
                "apiVersion": "v1", "kind": "Service",
                "metadata": [
                    "name": "kubernetes", "namespace": "default",
                    "labels": ["component": "apiserver", "provider": "kubernetes"],
                ],
                "spec": [
                    "type": "ClusterIP", "clusterIP": .string(clusterIPs.apiServerIP.description),
                    "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443]],
                ],
            ]
            svc[path: ["metadata", "uid"]] = .string(UUIDGenerator.v4())
            svc[path: ["metadata", "creationTimestamp"]] = .string(now())
            let prepared = try prepareService(old: nil, new: svc)
            _ = try await storage.write(key) { current throws(Status) in current == nil ? .put(prepared) : .unchanged }
        }
    }
}

extension APIHandler {
    /// The endpoints of the `kubernetes` Service, as kube-apiserver keeps them: this server's advertised address and
    /// port as the Endpoints object and the EndpointSlice `kubernetes` (port `https`), so clients in Pods reach the
    /// API through the Service's cluster address. Written when they differ; a failure is logged.
    func publishOwnEndpoints(address: IPAddress, port: Int) async {
        let ports: JSON = [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]]
        let labels: JSON = ["kubernetes.io/service-name": "kubernetes"]
        let endpoints: JSON = [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": [
                "name": "kubernetes", "namespace": "default",
                "labels": ["endpointslice.kubernetes.io/skip-mirror": "true"],
            ],
            "subsets": [["addresses": [["ip": .string(address.description)]], "ports": ports]],
        ]
        let slice: JSON = [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "addressType": .string(address.family.rawValue),
            "metadata": ["name": "kubernetes", "namespace": "default", "labels": labels],
            "endpoints": [["addresses": [.string(address.description)], "conditions": ["ready": true]]],
            "ports": ports,
        ]
        for (object, path) in [
            (endpoints, "/api/v1/namespaces/default/endpoints"),
            (slice, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"),
        ] {
            var wanted = object
            let (status, current) = await perform("GET", "\(path)/kubernetes")
            if status == 200, let current {
                var same = current
                for field in ["subsets", "endpoints", "ports", "addressType"] { same[field] = object[field] }
                guard same != current else { continue }
                wanted = same
                let (written, answer) = await perform("PUT", "\(path)/kubernetes", body: wanted)
                if written >= 300 {
                    logger.warning("cannot update the kubernetes endpoints: \(answer?["message"] ?? .null)")
                }
            } else {
                let (written, answer) = await perform("POST", path, body: wanted)
                if written >= 300 {
                    logger.warning("cannot write the kubernetes endpoints: \(answer?["message"] ?? .null)")
                }
            }
        }
    }
}
