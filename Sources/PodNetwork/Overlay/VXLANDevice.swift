import NetCore
import Netlink

/// The VXLAN device a node's overlay runs (`flannel.1`, `flannel-v6.1`), as flannel creates it: the VNI, the node's
/// address as the source, the underlay device, the port when configured, learning off, the MTU 50 below the
/// underlay's (70 over IPv6), a MAC that other nodes know from the Node's `backend-data`.
///
/// Pure value.
public struct VXLANDevice: Sendable, Equatable {
    public var name: String
    public var settings: VXLANSettings
    public var mtu: UInt32
    public var mac: MACAddress

    /// - Parameters:
    ///   - local: the node's public address of this family (the VTEP).
    ///   - underlay: the index of the interface that address is on.
    public init(
        backend: OverlayBackend, ipv6: Bool, local: IPAddress, underlay: Int32, underlayMTU: Int, mac: MACAddress
    ) {
        name = backend.deviceName(ipv6: ipv6)
        settings = VXLANSettings(
            id: backend.vni, local: local, underlay: underlay, port: backend.port == 0 ? nil : backend.port,
            learning: backend.learning, groupPolicy: backend.groupPolicy)
        mtu = UInt32(max(68, backend.deviceMTU(underlayMTU: underlayMTU, ipv6: ipv6)))
        self.mac = mac
    }

    /// How to create it (down; the overlay brings it up after setting its address).
    public var template: LinkTemplate {
        LinkTemplate(name: name, kind: .vxlan(settings), mtu: mtu, address: mac)
    }

    /// Why an existing link of this name cannot be kept (it is then deleted and created anew, as flannel does):
    /// another kind, VNI, source address, underlay, port, learning or GBP. `nil` when it can be kept; its MTU, MAC
    /// and state are set in place.
    public func incompatibility(with link: Link) -> String? {
        guard link.kind == "vxlan", let existing = link.vxlan else {
            return "it is a \(link.kind ?? "device of unknown kind"), not vxlan"
        }
        if existing.id != settings.id { return "vni \(existing.id), wanted \(settings.id)" }
        if let have = existing.local, let want = settings.local, have != want {
            return "local address \(have), wanted \(want)"
        }
        if let have = existing.underlay, let want = settings.underlay, have > 0, have != want {
            return "underlay device #\(have), wanted #\(want)"
        }
        let wantedPort = settings.port ?? OverlayBackend.defaultVXLANPort
        if let have = existing.port, have != wantedPort { return "port \(have), wanted \(wantedPort)" }
        if existing.learning != settings.learning { return "learning \(existing.learning ? "on" : "off")" }
        if existing.groupPolicy != settings.groupPolicy { return "gbp \(existing.groupPolicy ? "on" : "off")" }
        return nil
    }

    /// What to set on a kept link so it matches: MTU, MAC, up. `nil` when nothing differs.
    public func update(for link: Link) -> LinkUpdate? {
        var update = LinkUpdate()
        var differs = false
        if link.mtu != mtu {
            update.mtu = mtu
            differs = true
        }
        if link.address != mac.bytes {
            update.address = mac
            differs = true
        }
        if !link.flags.contains(.up) {
            update.up = true
            differs = true
        }
        return differs ? update : nil
    }

    /// A random locally administered unicast MAC, for a node that has none published yet.
    public static func randomMAC(using generator: inout some RandomNumberGenerator) -> MACAddress {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = (bytes[0] & 0xFE) | 0x02
        return MACAddress(bytes)
    }
}
