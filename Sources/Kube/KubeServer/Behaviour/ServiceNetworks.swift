import NetCore

/// The service CIDRs of the cluster: one per configured IP family, the first one primary (as kube-apiserver's
/// `--service-cluster-ip-range=primary[,secondary]`).
///
/// Thread-safe: each family's allocator is.
struct ServiceNetworks: Sendable {
    /// Families in configuration order; the first is the primary family.
    let families: [IPFamily]
    private let allocators: [IPFamily: ClusterIPAllocator]

    /// - Precondition: one or two networks, of different families (checked by `APIServer.Configuration`).
    init(_ networks: [IPNetwork]) {
        precondition((1...2).contains(networks.count) && Set(networks.map(\.family)).count == networks.count)
        families = networks.map(\.family)
        allocators = Dictionary(uniqueKeysWithValues: networks.map { ($0.family, ClusterIPAllocator(network: $0)) })
    }

    var primary: IPFamily { families[0] }
    var isDualStack: Bool { families.count == 2 }

    /// The allocator of `family`, `nil` when the cluster has no service CIDR of that family.
    func allocator(for family: IPFamily) -> ClusterIPAllocator? { allocators[family] }

    /// The `kubernetes` Service's address: the first usable address of the primary network.
    var apiServerIP: IPAddress { allocators[primary]!.first }
}
