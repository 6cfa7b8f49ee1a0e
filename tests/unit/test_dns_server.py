"""Cluster DNS: the records built from Services/Endpoints, the answers, the wire format (over real
UDP/TCP sockets on 127.0.0.1), and the node helper that installs and checks the answerer."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
import sys
import threading
import time

import pytest

from gitkube.controllers.services import claims
from gitkube.proxy import dnsnode, dnsserver
from gitkube.proxy.dnsrecords import dumps, records
from gitkube.proxy.dnsserver import A, AAAA, CNAME, NOERROR, NXDOMAIN, PTR, SRV, TXT, Answerer, Zones

CIDR = ipaddress.ip_network("10.96.0.0/16")


def service(name, ns="default", **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "uid": f"u-{name}"},
            "spec": spec}


def endpoints(name, addrs, ports=({"name": "http", "port": 8080},), ns="default"):
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": list(addrs), "ports": [dict(p, protocol="TCP") for p in ports]}]}


SERVICES = [
    service("kubia-http", clusterIP="10.96.0.20", ports=[{"name": "http", "port": 80}]),
    service("kubia-headless", clusterIP="None", ports=[{"name": "http", "port": 80}]),
    service("ext", type="ExternalName", externalName="kubia-http.default.svc.cluster.local."),
    service("away", type="ExternalName", externalName="Example.COM"),
    service("db", ns="data", clusterIP="10.96.0.30", ports=[{"port": 5432}]),
]
ENDPOINTS = [endpoints("kubia-headless", [{"ip": "172.17.0.3"}, {"ip": "172.17.0.2", "hostname": "web-0"}])]


def recs():
    return records(SERVICES, ENDPOINTS, claims(SERVICES, CIDR))


def test_records_of_every_kind_of_service():
    r = recs()
    assert r["a"]["kubia-http.default.svc.cluster.local"] == ["10.96.0.20"]
    assert r["a"]["kubia-headless.default.svc.cluster.local"] == ["172.17.0.2", "172.17.0.3"]
    assert r["a"]["web-0.kubia-headless.default.svc.cluster.local"] == ["172.17.0.2"]
    assert r["a"]["172-17-0-3.kubia-headless.default.svc.cluster.local"] == ["172.17.0.3"]
    assert r["cname"] == {"ext.default.svc.cluster.local": "kubia-http.default.svc.cluster.local",
                          "away.default.svc.cluster.local": "example.com"}
    assert r["srv"]["_http._tcp.kubia-http.default.svc.cluster.local"] == [
        [0, 100, 80, "kubia-http.default.svc.cluster.local"]]
    assert [x[3] for x in r["srv"]["_http._tcp.kubia-headless.default.svc.cluster.local"]] == [
        "172-17-0-3.kubia-headless.default.svc.cluster.local", "web-0.kubia-headless.default.svc.cluster.local"]
    assert r["ptr"]["20.0.96.10.in-addr.arpa"] == "kubia-http.default.svc.cluster.local"
    assert "db.data.svc.cluster.local" in r["a"]
    assert dumps(r) == dumps(recs())


@pytest.fixture
def zones(tmp_path):
    (tmp_path / "records-TESTA.json").write_text(dumps({**recs(), "clients": ["172.17.0.9"]}))
    return Zones(str(tmp_path))


@pytest.mark.parametrize("name,qtype,rcode,answers", [
    pytest.param("kubia-http.default.svc.cluster.local", A, NOERROR, [("A", "10.96.0.20")], id="a service name"),
    pytest.param("KUBIA-HTTP.default.svc.cluster.local.", A, NOERROR, [("A", "10.96.0.20")], id="case-insensitive"),
    pytest.param("kubia-http.default.svc.cluster.local", AAAA, NOERROR, [], id="no AAAA: NODATA"),
    pytest.param("kubia-headless.default.svc.cluster.local", A, NOERROR, [("A", "172.17.0.2"), ("A", "172.17.0.3")],
                 id="headless: every ready pod"),
    pytest.param("ext.default.svc.cluster.local", A, NOERROR,
                 [("CNAME", "kubia-http.default.svc.cluster.local"), ("A", "10.96.0.20")], id="a CNAME chased inside"),
    pytest.param("away.default.svc.cluster.local", A, NOERROR, [("CNAME", "example.com"), ("A", "192.0.2.99")],
                 id="a CNAME to outside, resolved by the node"),
    pytest.param("_http._tcp.kubia-http.default.svc.cluster.local", SRV, NOERROR,
                 [("SRV", (0, 100, 80, "kubia-http.default.svc.cluster.local"))], id="SRV of a named port"),
    pytest.param("20.0.96.10.in-addr.arpa", PTR, NOERROR, [("PTR", "kubia-http.default.svc.cluster.local")], id="PTR"),
    pytest.param("default.svc.cluster.local", A, NOERROR, [], id="an empty non-terminal exists"),
    pytest.param("nope.default.svc.cluster.local", A, NXDOMAIN, [], id="unknown in the zone: NXDOMAIN"),
    pytest.param("kubia-http", A, NXDOMAIN, [], id="a single label is never forwarded"),
    pytest.param("kubia-http.default", A, NXDOMAIN, [], id="svc.ns asked as is: NXDOMAIN, not forwarded"),
])
def test_answers(zones, name, qtype, rcode, answers):
    names = {A: "A", CNAME: "CNAME", SRV: "SRV", PTR: "PTR"}
    got = Answerer(zones, "p1-test", resolve_external=lambda n: ["192.0.2.99"] if n == "example.com" else []).answer(
        name, qtype, "172.17.0.9")
    assert got is not None
    assert (got[0], [(names[t], v) for _, t, v in got[1]]) == (rcode, answers)


def test_other_names_are_forwarded(zones):
    assert Answerer(zones, "v").answer("example.org", A) is None


def test_the_health_name_reports_the_records_digest(zones, tmp_path):
    rcode, answers = Answerer(zones, "p1-x").answer("_gitkube-health.testa.cluster.local", TXT)
    assert rcode == NOERROR and answers[0][2].startswith("ok p1-x ")


def test_several_clusters_answer_their_own_pods_first(tmp_path):
    other = {"domain": "cluster.local", "a": {"kubia-http.default.svc.cluster.local": ["10.96.9.9"]},
             "clients": ["172.17.0.50"]}
    (tmp_path / "records-TESTA.json").write_text(dumps({**recs(), "clients": ["172.17.0.9"]}))
    (tmp_path / "records-TESTB.json").write_text(json.dumps(other))
    ans = Answerer(Zones(str(tmp_path)), "v")
    assert ans.answer("kubia-http.default.svc.cluster.local", A, "172.17.0.9")[1][0][2] == "10.96.0.20"
    assert ans.answer("kubia-http.default.svc.cluster.local", A, "172.17.0.50")[1][0][2] == "10.96.9.9"
    old = time.time() - Zones.STALE_SECONDS - 5
    os.utime(tmp_path / "records-TESTB.json", (old, old))
    time.sleep(Zones.REFRESH_SECONDS + 0.05)
    assert ans.answer("kubia-http.default.svc.cluster.local", A, "172.17.0.77")[1][0][2] == "10.96.0.20"


# --- on the wire ------------------------------------------------------------------------------------

def query(name: str, qtype: int, qid: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dnsserver.encode_name(name) + struct.pack("!HH", qtype, 1)


def parse_answers(msg: bytes) -> tuple[int, int, list]:
    qid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    _, off = dnsserver.read_name(msg, 12)
    off += 4
    out = []
    for _ in range(an):
        name, off = dnsserver.read_name(msg, off)
        rtype, _, ttl, length = struct.unpack("!HHIH", msg[off:off + 10])
        data = msg[off + 10:off + 10 + length]
        value = socket.inet_ntoa(data) if rtype == A else dnsserver.read_name(msg, off + 10)[0]
        out.append((name, rtype, value))
        off += 10 + length
    return qid, flags, out


@pytest.fixture
def server(zones):
    for _ in range(20):  # a port free for both UDP and TCP
        try:
            srv = dnsserver.Server("127.0.0.1", free_port(), Answerer(zones, "v"), [])
            break
        except OSError:
            continue
    srv.port = srv.udp.getsockname()[1]
    t = threading.Thread(target=srv.serve, daemon=True)
    t.start()
    yield srv
    srv.close()


def test_udp_answers_with_the_question_echoed_and_compressed_owner_names(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(query("kubia-headless.default.svc.cluster.local", A, 0x4242), ("127.0.0.1", server.port))
    msg, _ = s.recvfrom(4096)
    qid, flags, answers = parse_answers(msg)
    assert qid == 0x4242 and flags & 0x8000 and flags & 0x0400 and flags & 0x000F == NOERROR
    assert [a[2] for a in answers] == ["172.17.0.2", "172.17.0.3"]
    assert msg.count(b"kubia-headless") == 1  # answers point at the question's name


def test_a_large_answer_is_truncated_over_udp_and_complete_over_tcp(server, tmp_path):
    many = {"domain": "cluster.local", "a": {"big.default.svc.cluster.local": [f"172.17.{i // 250}.{i % 250 + 1}"
                                                                               for i in range(100)]}}
    (tmp_path / "records-TESTA.json").write_text(json.dumps(many))
    time.sleep(Zones.REFRESH_SECONDS + 0.05)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(query("big.default.svc.cluster.local", A), ("127.0.0.1", server.port))
    msg, _ = s.recvfrom(4096)
    assert struct.unpack("!H", msg[2:4])[0] & 0x0200 and len(msg) <= 512
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as c:
        q = query("big.default.svc.cluster.local", A)
        c.sendall(struct.pack("!H", len(q)) + q)
        length = struct.unpack("!H", c.recv(2))[0]
        data = b""
        while len(data) < length:
            data += c.recv(length - len(data))
    assert len(parse_answers(data)[2]) == 100


def test_garbage_gets_formerr_and_the_server_survives(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff", ("127.0.0.1", server.port))
    msg, _ = s.recvfrom(512)
    assert struct.unpack("!H", msg[2:4])[0] & 0x000F == 1
    s.sendto(query("kubia-http.default.svc.cluster.local", A), ("127.0.0.1", server.port))
    assert parse_answers(s.recvfrom(512)[0])[2][0][2] == "10.96.0.20"


# --- the node helper ----------------------------------------------------------------------------------

class Local:
    def run(self, argv, input=None, timeout=30):
        import subprocess

        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_helper_starts_the_answerer_once_and_follows_record_changes(tmp_path):
    _, server_src, version = dnsnode.sources()
    port = free_port()
    base = {"action": "ensure", "root": str(tmp_path), "listen": "127.0.0.1", "port": port, "tag": "TESTA",
            "server": server_src, "version": version, "upstream": "none"}
    first = dnsnode._call(Local(), sys.executable, {**base, "records": dumps(recs())}, 20)
    try:
        assert first["ok"] and first["started"], first
        changed = {**recs(), "a": {"kubia-http.default.svc.cluster.local": ["10.96.0.21"]}}
        second = dnsnode._call(Local(), sys.executable, {**base, "records": dumps(changed)}, 20)
        assert second["ok"] and not second["started"] and second["pid"] == first["pid"]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(query("kubia-http.default.svc.cluster.local", A), ("127.0.0.1", port))
        assert parse_answers(s.recvfrom(512)[0])[2][0][2] == "10.96.0.21"
    finally:
        dnsnode._call(Local(), sys.executable, {"action": "stop-all", "root": str(tmp_path)}, 20)
    proc = f"/proc/{first['pid']}"
    assert not os.path.exists(proc) or b"gkdns" not in open(f"{proc}/cmdline", "rb").read()
