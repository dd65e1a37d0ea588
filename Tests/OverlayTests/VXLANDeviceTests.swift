import NetCore
import Netlink
import Overlay
import Testing

/// The VXLAN device as flannel creates it, and when an existing one is kept, mended or replaced.
@Suite struct VXLANDeviceTests {
    static let mac = MACAddress("5e:08:1d:56:15:e3")!
    static let device = VXLANDevice(
        backend: OverlayBackend(), ipv6: false, local: IPAddress("192.0.2.11")!, underlay: 2, underlayMTU: 1500,
        mac: mac)

    static func link(_ settings: VXLANSettings, kind: String = "vxlan", mtu: UInt32 = 1450, up: Bool = true) -> Link {
        Link(
            index: 4, name: "flannel.1", flags: up ? [.up] : [], address: mac.bytes, kind: kind, mtu: mtu,
            vxlan: kind == "vxlan" ? settings : nil)
    }

    @Test func theSeedsFlannelOne() {
        // `vxlan id 1 local 10.0.0.11 dev eth0 … dstport 8472 nolearning`, mtu 1450, the published MAC.
        let d = Self.device
        #expect(d.name == "flannel.1")
        #expect(
            d.settings == VXLANSettings(id: 1, local: IPAddress("192.0.2.11"), underlay: 2, port: nil, learning: false))
        #expect(d.mtu == 1450)
        #expect(d.template == LinkTemplate(name: "flannel.1", kind: .vxlan(d.settings), mtu: 1450, address: Self.mac))
    }

    @Test func aCompatibleDeviceIsKeptAndMendedInPlace() {
        var reported = Self.device.settings
        reported.port = 8472  // the kernel reports its default
        #expect(Self.device.incompatibility(with: Self.link(reported)) == nil)
        #expect(Self.device.update(for: Self.link(reported)) == nil)
        #expect(Self.device.update(for: Self.link(reported, mtu: 1500, up: false)) == LinkUpdate(up: true, mtu: 1450))
    }

    @Test func anIncompatibleDeviceIsReplaced() {
        func changed(_ change: (inout VXLANSettings) -> Void) -> Link {
            var settings = Self.device.settings
            change(&settings)
            return Self.link(settings)
        }
        let cases: [(Link, String)] = [
            (changed { $0.id = 2 }, "vni 2, wanted 1"),
            (changed { $0.local = IPAddress("192.0.2.99") }, "local address 192.0.2.99"),
            (changed { $0.underlay = 7 }, "underlay device #7"),
            (changed { $0.port = 4789 }, "port 4789, wanted 8472"),
            (changed { $0.learning = true }, "learning on"),
            (changed { $0.groupPolicy = true }, "gbp on"),
        ]
        for (link, why) in cases {
            #expect(Self.device.incompatibility(with: link)?.contains(why) == true, "\(why)")
        }
    }

    @Test func aDeviceOfAnotherKindIsReplaced() {
        #expect(
            Self.device.incompatibility(with: Self.link(Self.device.settings, kind: "bridge"))
                == "it is a bridge, not vxlan")
    }

    @Test func randomMACsAreLocallyAdministeredUnicast() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let mac = VXLANDevice.randomMAC(using: &generator)
            #expect(mac.bytes[0] & 0x01 == 0 && mac.bytes[0] & 0x02 == 0x02)
        }
    }
}

/// When the VXLAN checksum workaround applies.
@Suite struct ChecksumOffloadTests {
    @Test func autoTurnsTheOffloadOffWhereTheBugBites() {
        #expect(ChecksumOffload.auto.keeps(kernel: "6.18.44-fc-v1300", natted: false).keep)
        #expect(ChecksumOffload.auto.keeps(kernel: "5.7.0", natted: false).keep)
        #expect(!ChecksumOffload.auto.keeps(kernel: "5.4.0-150-generic", natted: false).keep)
        #expect(!ChecksumOffload.auto.keeps(kernel: "3.10.0-1160.el7.x86_64", natted: false).keep)
        #expect(!ChecksumOffload.auto.keeps(kernel: "6.1.0", natted: true).keep)
        #expect(ChecksumOffload.auto.keeps(kernel: "garbage", natted: false).keep == false, "unknown: be safe")
        #expect(ChecksumOffload.on.keeps(kernel: "4.19", natted: true).keep)
        #expect(!ChecksumOffload.off.keeps(kernel: "6.18", natted: false).keep)
    }
}
