import KubeAPI
import Lab
import NetCore

/// The objects a lab starts with (pure): the seed's MetalLB configuration moved to documentation addresses, the
/// lab's Nodes, and the demo Service with its Pods.
public enum LabManifests {
    /// Namespace of the load balancer's configuration and membership Secret.
    public static let namespace = "pylon-system"
    public static let demoService = "demo"
    /// The port the demo backends listen on (the Service's targetPort).
    public static let backendPort = 8080

    /// The seed's `metallb-config.yaml` (an IPAddressPool and an L2Advertisement naming it), with the pool on the
    /// lab's LAN: 192.0.2.100-192.0.2.200, and 2001:db8::100-2001:db8::1ff with IPv6.
    public static func configuration(ipv6: Bool) -> String {
        """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: lab-pool
          namespace: \(namespace)
        spec:
          addresses:
          - 192.0.2.100-192.0.2.200
        \(ipv6 ? "  - 2001:db8::100-2001:db8::1ff\n" : "")---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata:
          name: lab
          namespace: \(namespace)
        spec:
          ipAddressPools:
          - lab-pool

        """
    }

    /// Prefixes that cover the lab pool (and nothing else on the LAN: hosts are at .10 and up, a few of them), which
    /// the client routes through the router with `--bgp`.
    public static func poolPrefixes(ipv6: Bool) -> [IPNetwork] {
        ["192.0.2.96/27", "192.0.2.128/25"].compactMap(IPNetwork.init) + (ipv6 ? [IPNetwork("2001:db8::100/120")!] : [])
    }

    /// With `--bgp`: every node peers with the router (AS 64512 to AS 64500), signing the session with TCP-MD5
    /// `password` (from a Secret, as MetalLB's `passwordSecret` reads it), watching the path with BFD (MetalLB's
    /// default timers, 300 ms × 3), and announces the lab pool to it.
    public static func bgpConfiguration(router: String, password: String) -> String {
        """
        apiVersion: v1
        kind: Secret
        metadata:
          name: router-bgp-password
          namespace: \(namespace)
        type: kubernetes.io/basic-auth
        data:
          password: \(Base64.encode(Array(password.utf8)))
        ---
        apiVersion: metallb.io/v1beta2
        kind: BGPPeer
        metadata:
          name: router
          namespace: \(namespace)
        spec:
          myASN: 64512
          peerASN: 64500
          peerAddress: \(router)
          holdTime: 9s
          passwordSecret:
            name: router-bgp-password
            namespace: \(namespace)
          bfdProfile: lab-bfd
        ---
        apiVersion: metallb.io/v1beta1
        kind: BFDProfile
        metadata:
          name: lab-bfd
          namespace: \(namespace)
        spec:
          receiveInterval: 300
          transmitInterval: 300
          detectMultiplier: 3
        ---
        apiVersion: metallb.io/v1beta1
        kind: BGPAdvertisement
        metadata:
          name: lab
          namespace: \(namespace)
        spec:
          ipAddressPools:
          - lab-pool
          communities:
          - "64512:100"

        """
    }

    /// A Ready Node whose InternalIPs are its LAN addresses (IPv4 first: the membership address).
    public static func node(_ name: String, addresses: [IPAddress]) -> (object: JSON, status: JSON) {
        (
            [
                "apiVersion": "v1", "kind": "Node",
                "metadata": ["name": .string(name), "labels": ["kubernetes.io/hostname": .string(name)]],
            ],
            [
                "addresses": .array(
                    addresses.map { ["type": "InternalIP", "address": .string($0.description)] } + [
                        ["type": "Hostname", "address": .string(name)]
                    ]),
                "conditions": [["type": "Ready", "status": "True", "reason": "LabNodeReady"]],
            ]
        )
    }

    /// The demo Service: type LoadBalancer, port 80 to the demo Pods' port `http` (8080), dual-stack when the lab has IPv6, and
    /// `externalTrafficPolicy: Local`, so the node that announces the address is the one whose backend answers.
    public static func demo(ipv6: Bool) -> JSON {
        [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": .string(demoService), "namespace": "default", "labels": ["app": "demo"]],
            "spec": [
                "type": "LoadBalancer", "externalTrafficPolicy": "Local",
                "ipFamilyPolicy": ipv6 ? "PreferDualStack" : "SingleStack",
                "ipFamilies": ipv6 ? ["IPv4", "IPv6"] : ["IPv4"], "selector": ["app": "demo"],
                "ports": [["name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"]],
            ],
        ]
    }

    /// The i-th demo Pod (from 1): label `app: demo`, one container with port 8080 named `http`, no node (the lab's
    /// scheduler spreads the Pods over the nodes).
    public static func demoPod(_ index: Int) -> JSON {
        [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": [
                "name": .string("\(demoService)-\(index)"), "namespace": "default", "labels": ["app": "demo"],
            ],
            "spec": [
                "containers": [
                    [
                        "name": "web", "image": "pylon/demo",
                        "ports": [["name": "http", "containerPort": .int(Int64(backendPort)), "protocol": "TCP"]],
                    ]
                ],
                "terminationGracePeriodSeconds": 5,
            ],
        ]
    }
}
