"""ServiceProxy: the data plane on every host, kept in step with the Store.

The agent calls `sync(snapshot, ready_nodes)` once per pass; that only computes what every host
should have (Service ports with endpoints, DNS records) and wakes one worker thread per host, so a
slow or unreachable host never holds up the agent's loop. Each worker, on a change or every
`resync` seconds:

1. learns its host's facts (bridge subnet and gateway, its address toward the other hosts) and
   publishes them, so the other hosts can route to its pods;
2. syncs its routes to the other hosts' pod subnets (`topology`, `routes`);
3. renders its iptables rules (`rules.render`) and applies them when they changed — or when the
   hash of gitkube's part of `iptables-save` differs from what it left there (someone flushed it);
4. turns on route_localnet when there are node ports (127.0.0.1:nodePort);
5. keeps the DNS answerer running with the current records (`dnsnode`).

Problems become Warning events on the host's Node object (once per distinct message).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass

from gitkube.controllers.services import NODE_PORT_RANGE, claims, service_cidr
from gitkube.proxy import dnsnode, facts, iptables, routes, rules, topology
from gitkube.proxy.dnsrecords import dumps, records
from gitkube.proxy.model import ServicePort, service_ports

log = logging.getLogger("gitkube.proxy")

#: The records change with every pod that starts (its IP becomes a client); a burst of starts is
#: taken up by one update per interval rather than one command on the host each.
DNS_MIN_INTERVAL = 0.25
LOCALNET = ["sysctl", "-w", "net.ipv4.conf.all.route_localnet=1"]


@dataclass(frozen=True)
class Desired:
    ports: tuple[ServicePort, ...]
    records: dict  # cluster-wide DNS records (dnsrecords.records)
    pod_ips: dict[str, tuple[str, ...]]  # node name -> IPs of its pods (DNS clients of this cluster)

    def records_for(self, nodes: list) -> str:
        clients = sorted({ip for n in nodes for ip in self.pod_ips.get(n.name, ())})
        return dumps({**self.records, "clients": clients})


class ServiceProxy:
    def __init__(self, store, resync: float = 10.0, cidr: str | None = None,
                 port_range: tuple[int, int] = NODE_PORT_RANGE):
        self.store = store
        self.resync = max(1.0, resync)
        self.cidr = service_cidr(cidr)
        self.port_range = port_range
        self.tag = rules.cluster_tag(store.cluster_id())
        self.prefix = rules.owner_prefix(self.tag)
        self.route_metric = routes.route_metric(self.tag)
        self._lock = threading.Lock()
        self._desired: Desired | None = None
        self._groups: dict[str, list] = {}  # host key -> ready NodeHandles (sorted by name)
        self._facts: dict[str, topology.HostFacts] = {}
        self._workers: dict[str, _HostWorker] = {}
        self._closed = False

    # --- called by the agent loop -----------------------------------------------------------
    def sync(self, snap, nodes: list) -> None:
        """Record what every host should have and wake the host workers. Never blocks on a host."""
        services, endpoints = snap.of("Service"), snap.of("Endpoints")
        settled = claims(services, self.cidr, self.port_range)
        pod_ips: dict[str, set[str]] = {}
        for p in snap.of("Pod"):
            ip, node = (p.get("status") or {}).get("podIP"), (p.get("spec") or {}).get("nodeName")
            if ip and node:
                pod_ips.setdefault(node, set()).add(ip)
        desired = Desired(tuple(service_ports(services, endpoints, settled)), records(services, endpoints, settled),
                          {k: tuple(sorted(v)) for k, v in pod_ips.items()})
        groups: dict[str, list] = {}
        for n in sorted(nodes, key=lambda n: n.name):
            if n.conn is not None:
                groups.setdefault(facts.engine_id(n), []).append(n)
        existing = {n["metadata"]["name"] for n in snap.of("Node")}
        with self._lock:
            if self._closed:
                return
            self._desired = desired
            self._groups = groups
            for key in list(self._facts):  # forget hosts whose nodes are all gone
                if not set(self._facts[key].nodes) & existing:
                    del self._facts[key]
            for key in groups:
                if key not in self._workers:
                    self._workers[key] = _HostWorker(self, key)
                    self._workers[key].start()
            for key in [k for k in self._workers if k not in groups]:
                self._workers.pop(key).stop()
            workers = list(self._workers.values())
        for w in workers:
            w.poke()

    def close(self, flush: float = 3.0) -> None:
        """Stop the workers, after giving the healthy ones up to `flush` seconds to put the latest
        state in place (the agent may exit right after its last pass: the rules must not lag)."""
        deadline = time.monotonic() + flush
        with self._lock:
            self._closed = True
            desired, workers = self._desired, list(self._workers.values())
            self._workers.clear()
        healthy = [w for w in workers if w.applied is not None]
        while time.monotonic() < deadline and any(w.applied is not desired for w in healthy):
            time.sleep(0.02)
        for w in workers:
            w.stop()

    # --- shared with the workers ------------------------------------------------------------
    def state(self, key: str) -> tuple[Desired | None, list, list[topology.HostFacts]]:
        with self._lock:
            return self._desired, list(self._groups.get(key, [])), list(self._facts.values())

    def publish(self, key: str, found: topology.HostFacts) -> None:
        with self._lock:
            changed = self._facts.get(key) != found
            self._facts[key] = found
            others = [w for k, w in self._workers.items() if k != key]
        if changed:
            for w in others:
                w.poke()


class _HostWorker:
    """Keeps one host's routes, rules and DNS answerer current."""

    def __init__(self, proxy: ServiceProxy, key: str):
        self.proxy = proxy
        self.key = key
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"proxy-{key[:12]}", daemon=True)
        self._rules_text = ""
        self._rules_digest = ""
        self._routes: dict[str, str] | None = None
        self._localnet = False
        self._checked = 0.0
        self._reported: set[str] = set()
        self._topology_problems: set[str] = set()
        self._failures = 0
        self.applied: Desired | None = None  # the last desired state whose rules are in place
        self._toward: dict[str, str] = {}
        self._addresses: dict[str, str | None] = {}
        self._dns = _DnsKeeper(self)  # its own thread: a slow answerer never delays the rules

    def start(self) -> None:
        self._thread.start()
        self._dns.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._dns.stop()

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.proxy.resync)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.step()
                self._failures = 0
            except Exception as exc:  # a host failing must not end its worker
                self._failures += 1
                log.warning("proxy on host %s: %s", self.key[:12], exc)
                self._report(f"service proxy: {exc}")
                self._stop.wait(min(30.0, 0.5 * 2 ** self._failures))  # back off, then retry
                self._wake.set()

    # --- one round ---------------------------------------------------------------------------
    def step(self) -> None:
        desired, nodes, known = self.proxy.state(self.key)
        if desired is None or not nodes:
            return
        node = nodes[0]
        conn = node.conn
        if conn is None:
            return
        full = time.monotonic() - self._checked >= self.proxy.resync
        bridge = facts.bridge(node, refresh=full)
        mine = self._facts(node, nodes, bridge, known, conn, full)
        self.proxy.publish(self.key, mine)
        _, _, known = self.proxy.state(self.key)
        plan = topology.plan(known + ([] if any(f.key == self.key for f in known) else [mine]))[self.key]
        problems = []
        if full:  # hosts learn about each other over a few rounds: report only what lasts
            problems += [p for p in plan.problems if p in self._topology_problems]
            self._topology_problems = set(plan.problems)
        if plan.routes != self._routes or full:
            try:
                problems += routes.sync(conn, plan.routes, self.proxy.route_metric)
                self._routes = dict(plan.routes)
            except Exception as exc:  # the rules matter more: report, go on
                problems.append(f"routes: {exc}")
        prefix = self.proxy.prefix
        ruleset = rules.render(list(desired.ports), plan.view, self.proxy.tag)
        text = ruleset.text()
        if text != self._rules_text:
            self._rules_digest = iptables.apply(conn, ruleset, prefix)
            self._rules_text = text
        elif full and iptables.save(conn, prefix).digest() != self._rules_digest:
            log.warning("gitkube's iptables rules on host %s were changed by someone else: restoring", node.name)
            self._rules_digest = iptables.apply(conn, ruleset, prefix)
        if ruleset.node_ports and (not self._localnet or full):
            rc, _, err = conn.run(LOCALNET, timeout=15)
            if rc != 0:
                problems.append(f"route_localnet: {err.decode(errors='replace').strip()}")
            self._localnet = rc == 0
        self.applied = desired
        if bridge is not None:
            self._dns.want(conn, nodes, bridge.gateway, desired.records_for(nodes), full)
        if full:
            self._checked = time.monotonic()
        for p in problems:
            self._report(p)

    def _facts(self, node, nodes: list, bridge, known: list[topology.HostFacts], conn,
               full: bool) -> topology.HostFacts:
        address = self._resolve(node.address)
        toward: dict[str, str] = {}
        if address is None or ipaddress.ip_address(address).is_loopback:
            for other in known:
                if other.key == self.key or not other.address:
                    continue
                if full or other.address not in self._toward:
                    src = routes.source_toward(conn, other.address)
                    if src:
                        self._toward[other.address] = src
                if other.address in self._toward:
                    toward[other.key] = self._toward[other.address]
            address = None
        return topology.HostFacts(self.key, tuple(n.name for n in nodes), bridge.subnet if bridge else None, address,
                                  tuple(sorted(toward.items())))

    def _resolve(self, host: str) -> str | None:
        if host not in self._addresses:
            try:
                self._addresses[host] = socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
            except (OSError, IndexError):
                return None
        return self._addresses[host]

    def _report(self, message: str) -> None:
        if message in self._reported:
            return
        self._reported.add(message)
        _, nodes, _ = self.proxy.state(self.key)
        if not nodes:
            return
        try:
            obj = self.proxy.store.get("Node", "", nodes[0].name)
            if obj is not None:
                self.proxy.store.record_event(obj, "ServiceProxyProblem", message[:1000], "Warning")
        except Exception as exc:
            log.debug("event not recorded: %s", exc)


class _DnsKeeper:
    """Keeps one host's DNS answerer serving the latest records (newest request wins)."""

    def __init__(self, worker: _HostWorker):
        self.worker = worker
        self._lock = threading.Lock()
        self._wanted: tuple | None = None  # (conn, nodes, gateway, records)
        self._done = ""
        self._failed = ""
        self._failures = 0
        self._force = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dns-{worker.key[:12]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def want(self, conn, nodes: list, gateway: str, records_text: str, full: bool) -> None:
        with self._lock:
            self._wanted = (conn, nodes, gateway, records_text)
            self._force |= full
            changed = records_text not in (self._done, self._failed)
        if changed or full:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                wanted, force, self._force = self._wanted, self._force, False
            if self._stop.is_set() or wanted is None:
                continue
            conn, nodes, gateway, text = wanted
            if text == self._done and not force:
                continue
            try:
                dnsnode.ensure(conn, _python(conn), gateway, self.worker.proxy.tag, text)
                self._done, self._failed, self._failures = text, "", 0
                for n in nodes:
                    facts.set_dns_state(n.url, None)
                self._stop.wait(DNS_MIN_INTERVAL)
            except Exception as exc:
                self._done, self._failed = "", text
                self._failures += 1
                for n in nodes:
                    facts.set_dns_state(n.url, str(exc))
                self.worker._report(f"cluster DNS: {exc}")
                self._stop.wait(min(60.0, 2.0 ** self._failures))  # back off, then try again
                with self._lock:
                    self._force = True
                self._wake.set()


def _python(conn) -> str:
    """The node's python3: this interpreter for the agent's own machine, `python3` elsewhere."""
    from gitkube.runtime.connection import LocalConnection

    return sys.executable if isinstance(conn, LocalConnection) else "python3"
