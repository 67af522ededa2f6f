"""Query log entries as a libpcap file (tshark and Wireshark read it): each query and each
reply message a UDP datagram or TCP segments between the real addresses and ports::

    server.log.to_pcap("queries.pcap")                                   # every kept entry
    server.log.to_pcap("nx.pcap", server.log.entries(rcode="NXDOMAIN"))
    fakens.pcap.write("out.pcap", entries)     # anything shaped like :class:`Exchanged`
    fakens.pcap.decode_as(server.log)          # ["-d", "tcp.port==5053,dns", ...] for tshark

    tshark -r queries.pcap -d tcp.port==5053,dns -Y dns -T fields -e dns.qry.name -e dns.flags.rcode

tshark finds DNS over UDP on any port by itself, over TCP only on port 53: for a server on
another port, tell it (``-d tcp.port==PORT,dns``, as :func:`decode_as` lists them; Wireshark:
Decode As).

The packets are made from what the log kept, not captured: LINKTYPE_RAW (IPv4 or IPv6 by the
addresses' family, no link layer), IPv4 header checksums and UDP/TCP checksums computed. Each
TCP connection (one per client and local address pair) opens with SYN, SYN-ACK, ACK before
its first message; each message goes with its 2-byte length prefix (RFC 1035 4.2.2) in
segments of at most 65495 bytes, with consistent sequence numbers, each acknowledged by the
other side; no FIN (the log does not say when a connection closed). Timestamps: a query at
the entry's time, its reply messages at ``reply_time`` (time + delay + duration, on the
server's clock: a ManualClock's if it has one). An entry without query bytes (a connection a
fault refused) adds nothing; a transfer's messages past those the log kept
(``LogEntry.reply_bytes_omitted``) are missing; a UDP message too big for one datagram (it
could not have been sent) is left out.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

LINKTYPE_RAW = 101
SNAPLEN = 262144
MAX_SEGMENT = 65535 - 20 - 20  # the TCP payload that keeps an IPv4 packet within 65535 bytes
_ISN_CLIENT = 0x10000000
_ISN_SERVER = 0x50000000
_WINDOW = 65535
_SYN, _ACK, _PSH = 0x02, 0x10, 0x08
_UDP, _TCP = 17, 6

_FILE_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_UDP_HEADER = struct.Struct("!HHHH")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")

Address = tuple[str, int]


class Exchanged(Protocol):
    """What :func:`write` reads of one exchange (a :class:`~fakens.log.LogEntry` has it all)."""

    @property
    def time(self) -> float: ...

    @property
    def reply_time(self) -> float: ...

    @property
    def client(self) -> Address: ...

    @property
    def local(self) -> Address: ...

    @property
    def transport(self) -> str: ...

    @property
    def query_bytes(self) -> bytes: ...

    @property
    def reply_bytes(self) -> list[bytes]: ...


def write(path_or_file: str | IO[bytes], exchanges: Iterable[Exchanged]) -> int:
    """Write *exchanges* as a libpcap file (a path, or a binary file open for writing); the
    number of packets written."""
    capture = Capture()
    for x in exchanges:
        if not x.query_bytes:
            continue
        tcp = x.transport == "tcp"
        capture.add(x.time, tcp, x.client, x.local, True, x.query_bytes)
        for message in x.reply_bytes:
            capture.add(x.reply_time, tcp, x.client, x.local, False, message)
    if isinstance(path_or_file, str):
        with open(path_or_file, "wb") as f:
            return capture.write(f)
    return capture.write(path_or_file)


@dataclass(frozen=True)
class Captured:
    """One exchange as the control endpoint sends it (``/v1/log?wire=1``)."""

    time: float
    reply_time: float
    client: Address
    local: Address
    transport: str
    query_bytes: bytes
    reply_bytes: list[bytes]


def _address(text: str) -> Address:
    host, _, port = text.rpartition("#")
    return host, int(port)


def write_captured(path_or_file: str | IO[bytes], entries: Iterable[Mapping[str, Any]]) -> int:
    """:func:`write` for log entries as JSON with their bytes in hex (``fakens ctl log --pcap``)."""
    return write(path_or_file, [
        Captured(e["time"], e["reply_time"], _address(e["client"]), _address(e["local"]), e["transport"],
                 bytes.fromhex(e["query_hex"]), [bytes.fromhex(m) for m in e["reply_hex"]]) for e in entries])


def decode_as(exchanges: Iterable[Exchanged]) -> list[str]:
    """tshark's arguments that decode the servers' ports as DNS (``-d udp.port==P,dns -d
    tcp.port==P,dns`` for each server port but 53)."""
    ports = sorted({x.local[1] for x in exchanges} - {53})
    return [arg for port in ports for proto in ("udp", "tcp") for arg in ("-d", f"{proto}.port=={port},dns")]


@dataclass(order=True)
class _Message:
    time: float
    order: int
    tcp: bool = field(compare=False)
    client: Address = field(compare=False)
    server: Address = field(compare=False)
    from_client: bool = field(compare=False)
    wire: bytes = field(compare=False)


@dataclass
class _Flow:
    """One synthesised TCP connection: the next sequence number each way."""

    client_seq: int = _ISN_CLIENT + 1
    server_seq: int = _ISN_SERVER + 1


class Capture:
    """DNS messages between clients and servers, written in time order as IP packets."""

    def __init__(self) -> None:
        self._messages: list[_Message] = []
        self._flows: dict[tuple[Address, Address], _Flow] = {}
        self._ip_id = 0
        self._out: IO[bytes] | None = None
        self._packets = 0

    def add(self, time: float, tcp: bool, client: Address, server: Address, from_client: bool,
            wire: bytes) -> None:
        """One DNS message (without a TCP length prefix), sent at *time*."""
        self._messages.append(_Message(time, len(self._messages), tcp, client, server, from_client, wire))

    def write(self, out: IO[bytes]) -> int:
        """Write the file header and every packet; the number of packets."""
        self._out, self._packets, self._flows = out, 0, {}
        out.write(_FILE_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        for m in sorted(self._messages):
            client, server = _ip(m.client), _ip(m.server)
            if ":" in client[0] or ":" in server[0]:
                client, server = _as_ipv6(client), _as_ipv6(server)
            src, dst = (client, server) if m.from_client else (server, client)
            if m.tcp:
                self._tcp_message(m.time, client, server, m.from_client, m.wire)
            elif len(m.wire) <= 65535 - _UDP_HEADER.size - (0 if ":" in src[0] else 20):
                self._packet(m.time, src, dst, _UDP, _UDP_HEADER.pack(src[1], dst[1], 8 + len(m.wire), 0), m.wire)
        self._out = None
        return self._packets

    def _tcp_message(self, time: float, client: Address, server: Address, from_client: bool, wire: bytes) -> None:
        flow = self._flows.get((client, server))
        if flow is None:
            flow = self._flows[(client, server)] = _Flow()
            self._segment(time, client, server, _ISN_CLIENT, 0, _SYN)
            self._segment(time, server, client, _ISN_SERVER, _ISN_CLIENT + 1, _SYN | _ACK)
            self._segment(time, client, server, flow.client_seq, flow.server_seq, _ACK)
        data = struct.pack("!H", len(wire)) + wire
        for start in range(0, len(data), MAX_SEGMENT):
            chunk = data[start:start + MAX_SEGMENT]
            if from_client:
                self._segment(time, client, server, flow.client_seq, flow.server_seq, _PSH | _ACK, chunk)
                flow.client_seq = (flow.client_seq + len(chunk)) & 0xFFFFFFFF
                self._segment(time, server, client, flow.server_seq, flow.client_seq, _ACK)
            else:
                self._segment(time, server, client, flow.server_seq, flow.client_seq, _PSH | _ACK, chunk)
                flow.server_seq = (flow.server_seq + len(chunk)) & 0xFFFFFFFF
                self._segment(time, client, server, flow.client_seq, flow.server_seq, _ACK)

    def _segment(self, time: float, src: Address, dst: Address, seq: int, ack: int, flags: int,
                 payload: bytes = b"") -> None:
        header = _TCP_HEADER.pack(src[1], dst[1], seq, ack, 5 << 4, flags, _WINDOW, 0, 0)
        self._packet(time, src, dst, _TCP, header, payload)

    def _packet(self, time: float, src: Address, dst: Address, proto: int, header: bytes, payload: bytes) -> None:
        """An IP packet carrying a UDP or TCP *header* (checksum field zero, filled in here) and *payload*."""
        length = len(header) + len(payload)
        v6 = ":" in src[0]
        family = socket.AF_INET6 if v6 else socket.AF_INET
        s, d = socket.inet_pton(family, src[0]), socket.inet_pton(family, dst[0])
        pseudo = s + d + (struct.pack("!IxxxB", length, proto) if v6 else struct.pack("!xBH", proto, length))
        checksum = _checksum(pseudo + header + payload)  # never 0 (for UDP "none"): see _checksum
        offset = 6 if proto == _UDP else 16
        header = header[:offset] + struct.pack("!H", checksum) + header[offset + 2:]
        if v6:
            ip = _IPV6.pack(6 << 28, length, proto, 64, s, d)
        else:
            self._ip_id = (self._ip_id + 1) & 0xFFFF
            ip = _IPV4.pack(0x45, 0, 20 + length, self._ip_id, 0x4000, 64, proto, 0, s, d)
            ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        packet = ip + header + payload
        micros = round(time * 1_000_000)
        assert self._out is not None
        self._out.write(_RECORD_HEADER.pack(micros // 1_000_000, micros % 1_000_000, len(packet), len(packet)))
        self._out.write(packet)
        self._packets += 1


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): the one's complement of the one's complement sum of
    the 16-bit words (a big integer mod 0xFFFF is that sum, as 2**16 is 1 mod 0xFFFF; a sum
    of 0xFFFF comes out as 0, so the checksum is 0xFFFF, the other form of zero, never 0)."""
    if len(data) % 2:
        data += b"\0"
    return ~(int.from_bytes(data, "big") % 0xFFFF) & 0xFFFF


def _ip(address: Address) -> Address:
    """An address without an IPv6 zone (``fe80::1%lo``)."""
    return address[0].split("%", 1)[0], address[1]


def _as_ipv6(address: Address) -> Address:
    """An IPv4 address as IPv4-mapped IPv6 (a dual-stack socket's view), others unchanged."""
    return (address if ":" in address[0] else (f"::ffff:{address[0]}", address[1]))
