import NetCore

extension SubnetEnv {
    /// The file's text as flannel writes it: for each family in use its network and the subnet's first address
    /// with the subnet's length (`FLANNEL_SUBNET=10.42.0.1/24`), then FLANNEL_MTU and FLANNEL_IPMASQ.
    public var rendered: String {
        var text = ""
        func firstAddress(_ subnet: IPNetwork) -> String {
            "\(subnet.address(at: 1) ?? subnet.address)/\(subnet.prefixLength)"
        }
        if let subnet {
            let network = networks.filter { $0.family == .ipv4 }.map(\.description).joined(separator: ",")
            text += "FLANNEL_NETWORK=\(network)\nFLANNEL_SUBNET=\(firstAddress(subnet))\n"
        }
        if let ipv6Subnet {
            let network = networks.filter { $0.family == .ipv6 }.map(\.description).joined(separator: ",")
            text += "FLANNEL_IPV6_NETWORK=\(network)\nFLANNEL_IPV6_SUBNET=\(firstAddress(ipv6Subnet))\n"
        }
        text += "FLANNEL_MTU=\(mtu)\nFLANNEL_IPMASQ=\(flannelMasquerades)\n"
        return text
    }
}
