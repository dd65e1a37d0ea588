extension Resource {
    /// MetalLB's configuration and status resources (group `metallb.io`), which Pylon reads and writes as they are.
    public static let ipAddressPools = Resource(
        group: "metallb.io", version: "v1beta1", plural: "ipaddresspools", kind: "IPAddressPool", namespaced: true)
    public static let l2Advertisements = Resource(
        group: "metallb.io", version: "v1beta1", plural: "l2advertisements", kind: "L2Advertisement", namespaced: true)
    public static let configurationStates = Resource(
        group: "metallb.io", version: "v1beta1", plural: "configurationstates", kind: "ConfigurationState",
        namespaced: true)
    public static let bgpPeers = Resource(
        group: "metallb.io", version: "v1beta2", plural: "bgppeers", kind: "BGPPeer", namespaced: true)
    public static let communities = Resource(
        group: "metallb.io", version: "v1beta1", plural: "communities", kind: "Community", namespaced: true)
    public static let bfdProfiles = Resource(
        group: "metallb.io", version: "v1beta1", plural: "bfdprofiles", kind: "BFDProfile", namespaced: true)
    public static let bgpAdvertisements = Resource(
        group: "metallb.io", version: "v1beta1", plural: "bgpadvertisements", kind: "BGPAdvertisement", namespaced: true
    )
    public static let serviceL2Statuses = Resource(
        group: "metallb.io", version: "v1beta1", plural: "servicel2statuses", kind: "ServiceL2Status", namespaced: true)
    public static let serviceBGPStatuses = Resource(
        group: "metallb.io", version: "v1beta1", plural: "servicebgpstatuses", kind: "ServiceBGPStatus",
        namespaced: true)
}
