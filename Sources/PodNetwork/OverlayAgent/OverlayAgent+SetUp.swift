import CNI
import CoreMetrics
import Glibc
import KubeAPI
import KubeClient
import Logging
import NetCore
import OrderedCollections
import Overlay

extension OverlayAgent {
    /// Brings this node onto the overlay once its Node has a pod CIDR: finds the underlay, brings up the VXLAN
    /// devices (keeping the VTEP MAC the Node already publishes), publishes the lease in flannel's annotations and
    /// writes `subnet.env` and the CNI conflist. `nil` while that cannot be done yet; the reason is logged once.
    func setUp(kernel: OverlayKernel, nodes: Informer, pass: inout Pass) async -> LocalNode? {
        let conf = options.netConf
        let name = options.nodeName
        func wait(_ message: String, _ error: OverlayError? = nil) -> LocalNode? {
            if !pass.waitingSaid {
                logger.warning("\(message); waiting")
                pass.waitingSaid = true
            }
            if let error, error.reason != .podCIDRNotAssigned { metrics.count(error) }
            return nil
        }
        guard let me = nodes.get(name: name) else { return wait("node \"\(name)\" does not exist") }
        let subnets: (ipv4: IPNetwork?, ipv6: IPNetwork?)
        do {
            subnets = try NodeLease.subnets(of: me, conf: conf)
        } catch {
            return wait(error.message, error)
        }
        var annotations: [String: String] = [:]
        for (key, value) in me["metadata"]?["annotations"]?.objectValue ?? [:] {
            if let text = value.stringValue { annotations[key] = text }
        }
        let internalIPs = (me["status"]?["addresses"]?.arrayValue ?? []).filter {
            $0["type"]?.stringValue == "InternalIP"
        }
        .compactMap { $0["address"]?.stringValue.flatMap(IPAddress.init) }
        func publicAddress(_ family: IPFamily, _ option: IPAddress?, _ key: String) -> IPAddress? {
            option ?? annotations[key].flatMap(IPAddress.init).flatMap { $0.family == family ? $0 : nil }
                ?? internalIPs.first { $0.family == family }
        }
        let publicIP =
            subnets.ipv4 == nil ? nil : publicAddress(.ipv4, options.publicIP, FlannelAnnotations.nodePublicIP)
        let publicIPv6 =
            subnets.ipv6 == nil ? nil : publicAddress(.ipv6, options.publicIPv6, FlannelAnnotations.nodePublicIPv6)
        if (subnets.ipv4 != nil && publicIP == nil) || (subnets.ipv6 != nil && publicIPv6 == nil) {
            return wait(
                "node \"\(name)\" has no address to publish (give --public-ip, the \(FlannelAnnotations.nodePublicIP) "
                    + "annotation or an InternalIP)", OverlayError(.invalidPublicIP, ""))
        }
        func underlay(holding address: IPAddress) -> OverlayKernel.Underlay? {
            do {
                return try kernel.underlay(holding: address)
            } catch {
                logger.error("cannot read this node's interfaces: \(error)")
                return nil
            }
        }
        guard let anchor = publicIP ?? publicIPv6, let lan = underlay(holding: anchor) else {
            return wait("no interface of this node holds \(publicIP ?? publicIPv6 ?? .v4(0))")
        }
        var local = LocalNode(
            name: name, subnet: subnets.ipv4, ipv6Subnet: subnets.ipv6, publicIP: publicIP, publicIPv6: publicIPv6,
            underlay: lan)
        local.natted = [
            (FlannelAnnotations.publicIPOverwrite, publicIP), (FlannelAnnotations.publicIPv6Overwrite, publicIPv6),
        ].contains { key, own in
            guard let own, let overwrite = annotations[key].flatMap(IPAddress.init) else { return false }
            return overwrite != own
        }
        if conf.backend.kind == .vxlan {
            var generator = SystemRandomNumberGenerator()
            func mac(_ key: String) -> MACAddress {
                (try? FlannelAnnotations.VXLANData(annotation: annotations[key] ?? ""))?.vtepMAC
                    ?? VXLANDevice.randomMAC(using: &generator)
            }
            if let publicIP {
                local.device = VXLANDevice(
                    backend: conf.backend, ipv6: false, local: publicIP, underlay: lan.index, underlayMTU: lan.mtu,
                    mac: mac(FlannelAnnotations.backendData))
            }
            if let publicIPv6 {
                guard let lan6 = underlay(holding: publicIPv6) else {
                    return wait("no interface of this node holds \(publicIPv6)")
                }
                local.deviceV6 = VXLANDevice(
                    backend: conf.backend, ipv6: true, local: publicIPv6, underlay: lan6.index, underlayMTU: lan6.mtu,
                    mac: mac(FlannelAnnotations.backendV6Data))
            }
            guard ensureDevices(&local, kernel: kernel) else { return nil }
        }

        let publishedAnnotations = FlannelAnnotations.published(
            backend: conf.backend, publicIP: publicIP, publicIPv6: publicIPv6, vtepMAC: local.device?.mac,
            vtepMACv6: local.deviceV6?.mac, existing: annotations)
        if publishedAnnotations.contains(where: { annotations[$0.key] != $0.value }) {
            var patch: JSON = [:]
            for (key, value) in publishedAnnotations { patch[key] = .string(value) }
            do {
                _ = try await client.patch(.nodes, name: name, ["metadata": ["annotations": patch]])
            } catch {
                logger.error("cannot publish this node's lease on its Node: \(error)")
                return nil
            }
        }
        let podMTU = conf.backend.podMTU(underlayMTU: lan.mtu, ipv6: conf.enableIPv6)
        let env = SubnetEnv(
            networks: [conf.enableIPv4 ? conf.network : nil, conf.enableIPv6 ? conf.ipv6Network : nil]
                .compactMap { $0 }, subnet: subnets.ipv4, ipv6Subnet: subnets.ipv6, mtu: podMTU,
            flannelMasquerades: options.ipMasq)
        do {
            try OverlayFiles.write(env, to: options.subnetFile)
            try OverlayFiles.writeConflist(
                in: options.cniConfigDirectory, subnetFile: options.subnetFile,
                dataDirectory: options.cniDataDirectory)
        } catch {
            logger.error("\(error.message)")
            metrics.count(error)
            return nil
        }
        logger.info(
            "lease \(local.subnets.map(\.description).joined(separator: ", ")) published; backend \(conf.backend.kind.rawValue) on \(lan.name), pod MTU \(podMTU)"
        )
        return local
    }

    /// `uname -r`.
    static var kernelRelease: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Makes the VXLAN devices exist as planned (created, mended or recreated, each logged), recording their
    /// indices. `false` when the kernel refused.
    func ensureDevices(_ local: inout LocalNode, kernel: OverlayKernel) -> Bool {
        for ipv6 in [false, true] {
            guard let device = ipv6 ? local.deviceV6 : local.device,
                let subnet = ipv6 ? local.ipv6Subnet : local.subnet
            else { continue }
            do {
                let (index, outcome) = try kernel.ensure(device, address: subnet.address)
                switch outcome {
                case .created: logger.info("created \(device.name)")
                case .recreated(let why):
                    logger.warning("recreated \(device.name): the existing one had \(why)")
                    metrics.repairs.increment()
                case .mended:
                    logger.warning("mended \(device.name) (MTU, MAC, state or addresses had changed)")
                    metrics.repairs.increment()
                case .kept: break
                }
                if ipv6 { local.deviceV6Index = index } else { local.deviceIndex = index }
                let (keep, why) = options.vxlanChecksumOffload.keeps(kernel: Self.kernelRelease, natted: local.natted)
                if try kernel.setChecksumOffload(of: device, enabled: keep) || !local.checksumSaid {
                    logger.info(
                        "transmit checksum offload \(keep ? "kept on" : "turned off") on \(device.name): \(why)")
                    local.checksumSaid = true
                }
            } catch {
                logger.error("cannot set up \(device.name): \(error)")
                metrics.count(OverlayError(.kernelRefused, "\(error)"))
                return false
            }
        }
        return true
    }
}
