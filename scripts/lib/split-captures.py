"""Splits the pcap files of scripts/capture-frames into one file per message, as hex with comment lines.

split-captures.py WORK VERSIONS BGP_VERSIONS   writes Tests/*/Captures/*.hex from WORK/*.pcap
split-captures.py --updates FILE.pcap          prints how many BGP UPDATEs 192.0.2.2 has sent (for waiting)
split-captures.py --neighbours FILE.pcap       prints how many of the four ARP/NDP frames are in FILE (for waiting)
"""

import pathlib
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BGP_TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}


def frames(path):
    """Every frame of a classic pcap file (Ethernet link type), as bytes."""
    data = pathlib.Path(path).read_bytes()
    magic = data[:4]
    order = "<" if magic == b"\xd4\xc3\xb2\xa1" else ">"
    offset = 24
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack(order + "IIII", data[offset:offset + 16])
        offset += 16
        yield data[offset:offset + captured]
        offset += captured


def tcp_payloads(path):
    """(source IP, payload) of every IPv4 TCP segment with data, in capture order."""
    for frame in frames(path):
        if frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[header:total]
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield ".".join(str(b) for b in ip[12:16]), payload


def bgp_messages(path):
    """(sender IP, message) of every BGP message, each TCP direction reassembled in order."""
    streams = {}
    for source, payload in tcp_payloads(path):
        buffer = streams.get(source, b"") + payload
        while len(buffer) >= 19 and len(buffer) >= struct.unpack(">H", buffer[16:18])[0]:
            length = struct.unpack(">H", buffer[16:18])[0]
            yield source, buffer[:length]
            buffer = buffer[length:]
        streams[source] = buffer


def write(directory, name, comment, data):
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in comment] + [data[i:i + 16].hex(" ") for i in range(0, len(data), 16)]
    (directory / f"{name}.hex").write_text("\n".join(lines) + "\n")
    print(f"  {directory.relative_to(ROOT)}/{name}.hex ({len(data)} bytes)")


def neighbour_name(frame):
    """The capture name of an ARP request or reply, or a Neighbor Solicitation or Advertisement; None otherwise."""
    if frame[12:14] == b"\x08\x06":
        return {1: "arp-request-arping", 2: "arp-reply-linux"}.get(struct.unpack(">H", frame[20:22])[0])
    if frame[12:14] == b"\x86\xdd" and frame[20] == 58:
        return {135: "ns-ndisc6", 136: "na-linux"}.get(frame[54])
    return None


def neighbour_frames(work, versions):
    out = ROOT / "Tests/Layer2Tests/Captures"
    seen = set()
    for frame in frames(work / "neighbours.pcap"):
        name = neighbour_name(frame)
        if name and name not in seen:
            seen.add(name)
            who = "the Linux kernel answering" if name.endswith("linux") else name.split("-")[-1] + " asking"
            write(out, name, [
                f"{name}: one Ethernet frame, {who}, captured by scripts/capture-frames",
                "from 02:00:00:00:00:0a (192.0.2.1, 2001:db8::1) to 02:00:00:00:00:0b (192.0.2.2, 2001:db8::2)",
                versions,
            ], frame)
    missing = {"arp-request-arping", "arp-reply-linux", "ns-ndisc6", "na-linux"} - seen
    if missing:
        sys.exit(f"not captured: {sorted(missing)}")


def bgp_captures(work, versions):
    out = ROOT / "Tests/BGPTests/Captures"
    for router in ("gobgp", "frr"):
        counts = {}
        for source, message in bgp_messages(work / f"{router}.pcap"):
            speaker = "bird" if source == "192.0.2.2" else router
            kind = BGP_TYPES.get(message[18], f"type{message[18]}")
            counts[(speaker, kind)] = counts.get((speaker, kind), 0) + 1
            if speaker == "bird" and router == "frr":
                continue  # BIRD's side is kept from its session with GoBGP
            name = f"{speaker}-{kind}-{counts[(speaker, kind)]}"
            if kind == "keepalive" and counts[(speaker, kind)] > 1:
                continue
            peer = "FRR" if router == "frr" else "GoBGP"
            write(out, name, [
                f"{name}: one BGP message, header included, sent by {speaker} (AS {64501 if speaker == 'bird' else 64500})",
                f"in a session of BIRD (192.0.2.2, active) with {peer} (192.0.2.1, passive); scripts/capture-frames",
                versions,
            ], message)


def main():
    if sys.argv[1] == "--neighbours":
        print(len({neighbour_name(frame) for frame in frames(sys.argv[2])} - {None}))
        return
    if sys.argv[1] == "--updates":
        print(sum(1 for source, m in bgp_messages(sys.argv[2]) if source == "192.0.2.2" and m[18] == 2))
        return
    work = pathlib.Path(sys.argv[1])
    neighbour_frames(work, sys.argv[2])
    bgp_captures(work, sys.argv[3])


main()
