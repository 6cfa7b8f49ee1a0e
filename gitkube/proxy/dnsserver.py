"""gitkube's cluster DNS answerer: a small, dependency-free DNS server run on every node.

This file is shipped to the nodes as it is and run with the node's own `python3` (3.7 or newer;
standard library only, no gitkube imports). It listens on UDP and TCP on the node's Docker bridge
gateway (the `nameserver` of pods there) and answers from a JSON records file that the agent
rewrites whenever Services or Endpoints change; the file is re-read when it changes, so answers
follow the cluster without restarting anything. (One file per gitkube state driving the host:
`records-<cluster tag>.json`; see `Zones`. The server exits when the last file is removed.)

Answers:
* names under the cluster domain (A, CNAME, SRV, PTR records of the file): authoritative, with
  NXDOMAIN for unknown names and NODATA for known names without that type;
* a CNAME whose target is outside the cluster is followed with the node's own resolver;
* everything else is relayed as is to the node's upstream servers (`--upstream auto`: the node's
  /etc/resolv.conf) or refused (`--upstream none`); single-label names are never forwarded.
* `_gitkube-health.<tag>.<domain>` TXT answers `ok <version> <records digest>` (used by the agent).

Records file: {"domain": "cluster.local", "a": {name: [ip, ...]}, "cname": {name: target},
               "srv": {name: [[priority, weight, port, target], ...]}, "ptr": {name: target},
               "clients": [pod IPs of this cluster on this host]}
(names lower case, without the trailing dot).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

A, NS, CNAME, SOA, PTR, TXT, AAAA, SRV, ANY = 1, 2, 5, 6, 12, 16, 28, 33, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
TTL = 5
UDP_LIMIT = 512
HEALTH = "_gitkube-health"


class DnsError(Exception):
    pass


# --- wire format ---------------------------------------------------------------------------------

def read_name(msg: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at `offset`: (name without trailing dot, next offset)."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(msg):
            raise DnsError("name runs past the message")
        length = msg[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(msg) or jumps > 20:
                raise DnsError("bad compression pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | msg[offset + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise DnsError("bad label type")
        offset += 1
        if length == 0:
            break
        labels.append(msg[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), (end if end is not None else offset)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode("ascii", "replace")[:63]
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def parse_query(msg: bytes) -> tuple[int, int, str, int, int, int]:
    """(id, flags, qname, qtype, qclass, end of question)."""
    if len(msg) < 12:
        raise DnsError("short message")
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if qd != 1:
        raise DnsError("need exactly one question")
    name, off = read_name(msg, 12)
    if off + 4 > len(msg):
        raise DnsError("short question")
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    return qid, flags, name, qtype, qclass, off + 4


def rdata(rtype: int, value: object) -> bytes:
    if rtype == A:
        return socket.inet_aton(str(value))
    if rtype in (CNAME, PTR):
        return encode_name(str(value))
    if rtype == SRV:
        prio, weight, port, target = value  # type: ignore[misc]
        return struct.pack("!HHH", int(prio), int(weight), int(port)) + encode_name(str(target))
    if rtype == TXT:
        raw = str(value).encode()[:255]
        return bytes([len(raw)]) + raw
    raise DnsError(f"cannot encode type {rtype}")


def build_response(query: bytes, qend: int, qname: str, rcode: int, answers: list, authoritative: bool,
                   limit: int | None) -> bytes:
    """A response echoing the question; `answers` are (owner, type, value). With `limit` (UDP), a
    response that does not fit is sent empty with the TC bit so the client retries over TCP."""
    qid, flags = struct.unpack("!HH", query[:4])
    question = query[12:qend]
    out_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | (0x0400 if authoritative else 0) | rcode
    body = b""
    for owner, rtype, value in answers:
        data = rdata(rtype, value)
        name = b"\xc0\x0c" if owner.lower() == qname.lower() else encode_name(owner)
        body += name + struct.pack("!HHIH", rtype, 1, TTL, len(data)) + data
    msg = struct.pack("!HHHHHH", qid, out_flags, 1, len(answers), 0, 0) + question + body
    if limit is not None and len(msg) > limit:
        msg = struct.pack("!HHHHHH", qid, out_flags | 0x0200, 1, 0, 0, 0) + question
    return msg


def error_response(query: bytes, rcode: int) -> bytes:
    qid = struct.unpack("!H", query[:2])[0] if len(query) >= 2 else 0
    flags = struct.unpack("!H", query[2:4])[0] if len(query) >= 4 else 0
    return struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900) | 0x0080 | rcode, 0, 0, 0, 0)


# --- the zone ------------------------------------------------------------------------------------

class Zone:
    """One cluster's records file (`records-<tag>.json`), re-read when it changes."""

    def __init__(self, path: str, tag: str):
        self.path = path
        self.tag = tag
        self.stamp: tuple = ()
        self.mtime = 0.0
        self.domain = "cluster.local"
        self.a: dict = {}
        self.cname: dict = {}
        self.srv: dict = {}
        self.ptr: dict = {}
        self.clients: set = set()
        self.names: set = set()
        self.digest = ""

    def refresh(self, st: os.stat_result) -> None:
        self.mtime = st.st_mtime
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self.stamp:
            return
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
            data = json.loads(raw.decode())
        except (OSError, ValueError) as exc:
            log(f"records file {self.path} unreadable: {exc}")
            return
        self.load(data)
        self.digest = hashlib.sha256(raw).hexdigest()[:16]
        self.stamp = stamp

    def load(self, data: dict) -> None:
        self.domain = str(data.get("domain") or "cluster.local").lower().strip(".")
        self.a = {k.lower(): list(v) for k, v in (data.get("a") or {}).items()}
        self.cname = {k.lower(): str(v).lower().strip(".") for k, v in (data.get("cname") or {}).items()}
        self.srv = {k.lower(): [list(x) for x in v] for k, v in (data.get("srv") or {}).items()}
        self.ptr = {k.lower(): str(v) for k, v in (data.get("ptr") or {}).items()}
        self.clients = set(data.get("clients") or [])
        names = set(self.a) | set(self.cname) | set(self.srv) | set(self.ptr)
        parents = set()
        for n in names:  # empty non-terminals: names that exist only because something is below them
            parts = n.split(".")
            for i in range(1, len(parts)):
                parents.add(".".join(parts[i:]))
        self.names = names | parents

    def in_zone(self, name: str) -> bool:
        return name == self.domain or name.endswith("." + self.domain) or name in self.names

    def lookup(self, name: str, owner: str, qtype: int, resolve_external) -> tuple | None:
        """(rcode, answers) when this zone knows `name`, else None."""
        answers: list = []
        seen = set()
        while name in self.cname and name not in seen and len(seen) < 8:
            seen.add(name)
            target = self.cname[name]
            answers.append((owner, CNAME, target))
            if qtype == CNAME:
                return NOERROR, answers
            name, owner = target, target
        if seen and not self.in_zone(name):
            if qtype in (A, ANY):
                answers += [(owner, A, ip) for ip in resolve_external(name)]
            return NOERROR, answers
        if qtype in (A, ANY) and name in self.a:
            answers += [(owner, A, ip) for ip in self.a[name]]
        if qtype in (SRV, ANY) and name in self.srv:
            answers += [(owner, SRV, tuple(v)) for v in self.srv[name]]
        if qtype in (PTR, ANY) and name in self.ptr:
            answers.append((owner, PTR, self.ptr[name]))
        if answers or name in self.names:
            return NOERROR, answers
        return None


class Zones:
    """Every cluster's records in the directory. Normally there is one; when several gitkube
    states drive this host, a client is answered from the cluster that lists it among its pods,
    else from the most recently updated cluster that knows the name (stale files of other clusters,
    untouched for STALE_SECONDS, are ignored while a fresher one exists)."""

    STALE_SECONDS = 600.0
    REFRESH_SECONDS = 0.2

    def __init__(self, directory: str):
        self.directory = directory
        self.zones: dict = {}
        self._checked = 0.0
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> list:
        now = time.monotonic()
        with self._lock:
            if force or now - self._checked >= self.REFRESH_SECONDS:
                self._checked = now
                found = {}
                try:
                    entries = list(os.scandir(self.directory))
                except OSError:
                    entries = []
                for e in entries:
                    if e.name.startswith("records-") and e.name.endswith(".json"):
                        tag = e.name[len("records-"):-len(".json")]
                        zone = self.zones.get(tag) or Zone(e.path, tag)
                        try:
                            zone.refresh(e.stat())
                        except OSError:
                            continue
                        found[tag] = zone
                self.zones = found
            zones = sorted(self.zones.values(), key=lambda z: -z.mtime)
        fresh = [z for z in zones if time.time() - z.mtime < self.STALE_SECONDS]
        return fresh or zones

    def for_client(self, client: str) -> list:
        zones = self.refresh()
        mine = [z for z in zones if client in z.clients]
        return mine if len(mine) == 1 else zones


class Answerer:
    """What to answer for one question from one client; None means: not ours, forward it."""

    def __init__(self, zones: Zones, version: str, resolve_external=None):
        self.zones = zones
        self.version = version
        self.resolve_external = resolve_external or _getaddrinfo

    def answer(self, qname: str, qtype: int, client: str = "") -> tuple | None:
        name = qname.lower().strip(".")
        zones = self.zones.for_client(client)
        if name.startswith(HEALTH + "."):
            for z in self.zones.refresh(force=True):
                if name == f"{HEALTH}.{z.tag.lower()}.{z.domain}":
                    return NOERROR, [(qname, TXT, f"ok {self.version} {z.digest}")] if qtype in (TXT, ANY) else []
        for z in zones:
            found = z.lookup(name, qname, qtype, self.resolve_external)
            if found is not None:
                return found
        if any(z.in_zone(name) for z in zones) or "." not in name or name.endswith(".cluster.local"):
            return NXDOMAIN, []
        if any(f"{name}.svc.{z.domain}" in z.names or f"{name}.{z.domain}" in z.names for z in zones):
            return NXDOMAIN, []  # `svc.ns` asked as is (before the search list): no such name outside
        return None


def _getaddrinfo(name: str) -> list:
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return []
    out = []
    for info in infos:
        ip = info[4][0]
        if ip not in out:
            out.append(ip)
    return out


def upstreams_from(spec: str, listen: str) -> list:
    """`none`, `auto` (the node's /etc/resolv.conf) or a comma-separated list of addresses."""
    if spec == "none":
        return []
    if spec != "auto":
        return [s.strip() for s in spec.split(",") if s.strip()]
    out = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] != listen and ":" not in parts[1]:
                    out.append(parts[1])
    except OSError:
        pass
    return out[:3]


class Server:
    def __init__(self, listen: str, port: int, answerer: Answerer, upstreams: list):
        self.listen, self.port = listen, port
        self.answerer = answerer
        self.upstreams = upstreams
        self.pool = ThreadPoolExecutor(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.udp.bind((listen, port))
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((listen, port))
            self.tcp.listen(64)
        except OSError:
            self.udp.close()
            self.tcp.close()
            self.pool.shutdown(wait=False)
            raise
        self.stopped = threading.Event()
        self.pidfile: tuple = ()  # (path, content)

    def handle(self, query: bytes, limit: int | None, client: str = "") -> bytes | None:
        try:
            _qid, flags, qname, qtype, qclass, qend = parse_query(query)
        except DnsError:
            return error_response(query, FORMERR) if len(query) >= 4 else None
        if flags & 0x8000:
            return None  # a response, not a query
        if (flags >> 11) & 0xF != 0:
            return error_response(query, NOTIMP)
        result = self.answerer.answer(qname, qtype, client) if qclass in (1, 255) else (REFUSED, [])
        if result is None:
            return self.forward(query) or build_response(query, qend, qname, SERVFAIL if self.upstreams else NXDOMAIN,
                                                         [], False, limit)
        rcode, answers = result
        return build_response(query, qend, qname, rcode, answers, True, limit)

    def forward(self, query: bytes) -> bytes | None:
        for upstream in self.upstreams:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.settimeout(2.0)
                s.sendto(query, (upstream, 53))
                data, _ = s.recvfrom(65535)
                if data[:2] == query[:2]:
                    return data
            except OSError:
                continue
            finally:
                s.close()
        return None

    def _udp(self, query: bytes, addr) -> None:
        try:
            reply = self.handle(query, UDP_LIMIT, addr[0])
            if reply:
                self.udp.sendto(reply, addr)
        except Exception as exc:  # one bad packet must not stop the server
            log(f"udp query from {addr[0]}: {type(exc).__name__}: {exc}")

    def _tcp(self, conn: socket.socket, client: str) -> None:
        try:
            conn.settimeout(5.0)
            while True:
                head = _recv_exact(conn, 2)
                if not head:
                    return
                query = _recv_exact(conn, struct.unpack("!H", head)[0])
                if query is None:
                    return
                reply = self.handle(query, None, client)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, DnsError):
            pass
        finally:
            conn.close()

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        while not self.stopped.is_set():
            for key, _ in sel.select(1.0):
                if key.data == "udp":
                    try:
                        query, addr = self.udp.recvfrom(65535)
                    except OSError:
                        continue
                    self.pool.submit(self._udp, query, addr)
                else:
                    try:
                        conn, peer = self.tcp.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self._tcp, args=(conn, peer[0]), daemon=True).start()
            if not self.answerer.zones.refresh():
                log("no records file left: exiting")
                return
            if self.pidfile and not os.path.exists(self.pidfile[0]):
                self.write_pidfile()  # someone removed it: the helper finds this server by it

    def write_pidfile(self) -> None:
        path, text = self.pidfile
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            log(f"pid file {path}: {exc}")

    def close(self) -> None:
        self.stopped.set()
        self.udp.close()
        self.tcp.close()
        self.pool.shutdown(wait=False)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} gitkube-dns: {message}\n")
    sys.stderr.flush()


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description="gitkube cluster DNS answerer")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--records-dir", required=True, help="directory of records-<cluster tag>.json files")
    ap.add_argument("--pidfile", default="")
    ap.add_argument("--upstream", default="auto")
    ap.add_argument("--version", default="dev")
    args = ap.parse_args(argv)
    zones = Zones(args.records_dir)
    zones.refresh(force=True)
    try:
        upstreams = upstreams_from(args.upstream, args.listen)
        server = Server(args.listen, args.port, Answerer(zones, args.version), upstreams)
    except OSError as exc:
        log(f"cannot listen on {args.listen}:{args.port}: {exc}")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stopped.set())
    if args.pidfile:
        server.pidfile = (args.pidfile, f"{os.getpid()} {args.version}\n")
        server.write_pidfile()
    log(f"serving on {args.listen}:{args.port} (upstream: {','.join(server.upstreams) or 'none'})")
    try:
        server.serve()
    finally:
        server.close()
        if args.pidfile:
            try:
                with open(args.pidfile) as f:
                    mine = f.read().split()[:1] == [str(os.getpid())]
                if mine:
                    os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
