"""Picks netlink messages out of `strace -e write=all -e read=all` output, for scripts/capture-netlink.

strace-netlink.py TRACE sent TYPE NAME NOTE...       writes the last message of nlmsg_type TYPE that TRACE shows sent
strace-netlink.py TRACE received TYPE NAME NOTE...   writes every datagram received after the last request of TYPE

NAME.hex goes to Tests/NetlinkTests/Captures, 16 bytes a line, with NOTE lines as `#` comments above the bytes.
"""

import pathlib
import re
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CALL = re.compile(r"^\d+\s+(sendmsg|sendto|recvmsg)\(")
HEX = re.compile(r"^ \| [0-9a-f]{5}  (.{1,49})")  # 16 bytes in two groups of 8, then the text column


def buffers(trace):
    """(call, bytes) for every call of TRACE that strace dumped data for, in order."""
    out = []
    call = None
    for line in pathlib.Path(trace).read_text().splitlines():
        match = CALL.match(line)
        if match:
            call = match.group(1)
            out.append([call, bytearray()])
            continue
        match = HEX.match(line)
        if match and out:
            out[-1][1] += bytes.fromhex("".join(match.group(1).split()))
    return [(c, bytes(b)) for c, b in out if b]


def messages(data):
    """The netlink messages of one buffer (an nftables batch holds several)."""
    offset = 0
    while offset + 16 <= len(data):
        length = struct.unpack_from("<I", data, offset)[0]
        if length < 16:
            break
        yield data[offset:offset + length]
        offset += (length + 3) & ~3


def of_type(data, wanted):
    return [m for m in messages(data) if struct.unpack_from("<H", m, 4)[0] == wanted]


def main():
    trace, direction, wanted, name, *notes = sys.argv[1:]
    wanted = int(wanted, 0)
    calls = buffers(trace)
    sent = [i for i, (c, b) in enumerate(calls) if c != "recvmsg" and of_type(b, wanted)]
    if not sent:
        sys.exit(f"{trace}: no request of type {wanted} was sent")
    last = sent[-1]
    if direction == "sent":
        data = of_type(calls[last][1], wanted)[-1]
    else:
        data = b"".join(b for c, b in calls[last + 1:] if c == "recvmsg")
        if not data:
            sys.exit(f"{trace}: nothing was received after the request of type {wanted}")
    lines = [f"# {note}" for note in notes]
    lines += [" ".join(f"{x:02x}" for x in data[i:i + 16]) for i in range(0, len(data), 16)]
    (ROOT / "Tests/NetlinkTests/Captures" / f"{name}.hex").write_text("\n".join(lines) + "\n")


main()
