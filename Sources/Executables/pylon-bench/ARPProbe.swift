import CLinuxNet
import Foundation
import Layer2
import NetCore

/// The client side of the speaker benchmarks, run inside the lab's client namespace as
/// `pylon-bench --arp-probe …`: ARP requests from a packet socket, replies timed on arrival. Every loop is bounded
/// by a count or a deadline.
struct ARPProbe {
    let interface: Int32
    let mac: MACAddress
    let sender: IPAddress
    let socket: Int32

    init(interface name: String, sender: IPAddress) throws {
        interface = Int32(if_nametoindex(name))
        guard interface > 0 else { throw BenchError("no interface \(name)") }
        let text = try String(contentsOfFile: "/sys/class/net/\(name)/address", encoding: .utf8)
        guard let mac = MACAddress(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("no MAC address on \(name)")
        }
        self.mac = mac
        self.sender = sender
        socket = pylon_packet_socket(interface, UInt16(ETH_P_ARP), PYLON_FILTER_ARP_IN)
        guard socket >= 0 else { throw BenchError("packet socket: errno \(errno)") }
    }

    func request(_ target: IPAddress) {
        let arp = ARPPacket(operation: .request, senderMAC: mac, senderIP: sender, targetMAC: .zero, targetIP: target)
        let frame = EthernetFrame(
            destination: .broadcast, source: mac, etherType: EthernetFrame.arp, payload: arp.encoded()[...]
        ).encoded()
        _ = frame.withUnsafeBytes { pylon_packet_send(socket, interface, $0.baseAddress, UInt($0.count)) }
    }

    /// The next ARP reply for `target` within `timeout`, with the MAC that sent it.
    func reply(for target: IPAddress, within timeout: Duration) -> MACAddress? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 2048)
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&descriptor, 1, milliseconds) > 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0, let frame = try? EthernetFrame(decoding: buffer[0..<count]),
                let arp = try? ARPPacket(decoding: frame.payload), arp.operation == .reply, arp.senderIP == target
            else { continue }
            return arp.senderMAC
        }
        return nil
    }

    /// Stream mode: a request every `interval`; prints `reply <µs since start> <mac>` per reply. Stops at
    /// `limit`, or once a MAC other than the first has answered `settle` times in a row.
    func stream(_ target: IPAddress, interval: Duration, limit: Duration, settle: Int) {
        let start = ContinuousClock.now
        var first: MACAddress? = nil
        var streak = 0
        while ContinuousClock.now - start < limit {
            let sent = ContinuousClock.now
            request(target)
            // Collect every reply until the next send.
            while ContinuousClock.now - sent < interval {
                guard let from = reply(for: target, within: interval - (ContinuousClock.now - sent)) else { break }
                let at = ContinuousClock.now - start
                Self.emit(
                    "reply \(at.components.seconds * 1_000_000 + at.components.attoseconds / 1_000_000_000_000) \(from)"
                )
                if first == nil { first = from }
                streak = from == first ? 0 : streak + 1
            }
            if streak >= settle { break }
        }
        Self.emit("done")
    }

    /// RTT mode: `count` rounds, each one request to every target in turn; prints `rtt <target> <µs>` (or
    /// `lost <target>` after 200 ms).
    func roundTrips(_ targets: [IPAddress], count: Int) {
        for _ in 0..<count {
            for target in targets {
                let sent = ContinuousClock.now
                request(target)
                if reply(for: target, within: .milliseconds(200)) != nil {
                    let rtt = ContinuousClock.now - sent
                    Self.emit(
                        "rtt \(target) \(rtt.components.seconds * 1_000_000 + rtt.components.attoseconds / 1_000_000_000_000)"
                    )
                } else {
                    Self.emit("lost \(target)")
                }
            }
        }
        Self.emit("done")
    }

    /// Writes one line at once (the parent reads the output while the probe runs).
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// `--arp-probe stream IFACE SENDER TARGET INTERVAL_MS LIMIT_MS SETTLE` or
    /// `--arp-probe rtt IFACE SENDER COUNT TARGET…`.
    static func main(_ args: [String]) throws {
        guard args.count >= 4, let sender = IPAddress(args[2]) else { throw BenchError("bad --arp-probe arguments") }
        let probe = try ARPProbe(interface: args[1], sender: sender)
        switch args[0] {
        case "stream":
            guard args.count == 7, let target = IPAddress(args[3]), let interval = Int(args[4]),
                let limit = Int(args[5]),
                let settle = Int(args[6])
            else { throw BenchError("bad stream arguments") }
            probe.stream(target, interval: .milliseconds(interval), limit: .milliseconds(limit), settle: settle)
        case "rtt":
            guard let count = Int(args[3]) else { throw BenchError("bad rtt arguments") }
            probe.roundTrips(args.dropFirst(4).compactMap(IPAddress.init), count: count)
        default:
            throw BenchError("unknown probe mode \(args[0])")
        }
    }
}
