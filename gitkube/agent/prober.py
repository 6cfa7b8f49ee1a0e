"""Liveness, readiness and startup probes, run on their own schedule, results kept in memory.

One timer thread keeps a heap of due probes and hands them to a small pool, so 200 idle pods cost
almost nothing. Results are keyed by container id: a restarted container starts from scratch,
as in the kubelet. HTTP and TCP probes open their connection from the node (through its SSH
connection for remote nodes); exec probes run through the Docker exec API.
"""

from __future__ import annotations

import heapq
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Protocol

from gitkube.agent.podplan import ProbeState, parse_time

PROBE_KINDS = ("startupProbe", "livenessProbe", "readinessProbe")


class ProbeTransport(Protocol):
    def open_tcp(self, host: str, port: int, timeout: float): ...


class ExecRunner(Protocol):
    def exec(self, container_id: str, argv: list[str], timeout: float) -> tuple[int, bytes]: ...


@dataclass
class _Worker:
    """Counters of one probe of one container instance."""

    node: str
    container_id: str
    kind: str
    probe: dict
    ports: dict[str, int]
    pod_ip: str
    transport: ProbeTransport
    runner: ExecRunner
    started_at: float
    successes: int = 0
    failures: int = 0
    result: bool | None = None  # None until the threshold decides
    message: str = ""
    running: bool = False


@dataclass
class Prober:
    on_change: Callable[[], None]
    threads: int = 4
    _workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)
    _heap: list[tuple[float, int, tuple[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _kick: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _seq: int = 0

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="probe")
        self._timer = threading.Thread(target=self._run, name="prober", daemon=True)
        self._timer.start()

    # --- what the kubelet asks ---------------------------------------------------------------
    def state(self, container_id: str) -> ProbeState:
        with self._lock:
            start = self._workers.get((container_id, "startupProbe"))
            live = self._workers.get((container_id, "livenessProbe"))
            ready = self._workers.get((container_id, "readinessProbe"))
        started = start is None or start.result is True
        return ProbeState(
            ready=started and (ready is None or ready.result is True),
            started=started,
            liveness_failed=(start is not None and start.result is False)
            or (started and live is not None and live.result is False),
            message=(live.message if live and live.result is False else
                     start.message if start and start.result is False else ""))

    def sync_node(self, node: str,
                  running: list[tuple[str, dict, dict[str, int], str, str, ProbeTransport, ExecRunner]]) -> None:
        """Make the probes of `node` match its running containers:
        (container_id, container spec, named ports, pod IP, started_at, transport, exec runner)."""
        wanted: set[tuple[str, str]] = set()
        now = time.time()
        with self._lock:
            for cid, spec, ports, ip, started_at, transport, runner in running:
                for kind in PROBE_KINDS:
                    probe = spec.get(kind)
                    if not probe:
                        continue
                    key = (cid, kind)
                    wanted.add(key)
                    if key in self._workers:
                        continue
                    start = parse_time(started_at) or now
                    self._workers[key] = _Worker(node, cid, kind, probe, ports, ip, transport, runner, start)
                    first = start + float(probe.get("initialDelaySeconds", 0) or 0)
                    self._push(max(first, now), key)
            for key in [k for k, w in self._workers.items() if w.node == node and k not in wanted]:
                del self._workers[key]
        self._kick.set()

    def close(self) -> None:
        self._stop.set()
        self._kick.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the timer ---------------------------------------------------------------------------
    def _push(self, due: float, key: tuple[str, str]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                now = time.time()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    _, _, key = heapq.heappop(self._heap)
                    w = self._workers.get(key)
                    if w is not None and not w.running:
                        w.running = True
                        due.append(w)
                wait = self._heap[0][0] - now if self._heap else 5.0
            for w in due:
                self._pool.submit(self._probe_once, w)
            self._kick.wait(max(0.01, min(wait, 5.0)))
            self._kick.clear()

    def _probe_once(self, w: _Worker) -> None:
        ok, message = run_probe(w.probe, w.pod_ip, w.ports, w.transport, w.runner, w.container_id)
        changed = False
        with self._lock:
            w.running = False
            if self._workers.get((w.container_id, w.kind)) is not w:
                return
            if ok:
                w.successes, w.failures = w.successes + 1, 0
                need = int(w.probe.get("successThreshold", 1) or 1)
                if w.successes >= need and w.result is not True:
                    w.result, changed = True, True
            else:
                w.failures, w.successes = w.failures + 1, 0
                w.message = message
                need = int(w.probe.get("failureThreshold", 3) or 3)
                if w.failures >= need and w.result is not False:
                    w.result, changed = False, True
            finished_startup = w.kind == "startupProbe" and w.result is True
            if not finished_startup:
                self._push(time.time() + float(w.probe.get("periodSeconds", 10) or 10), (w.container_id, w.kind))
        self._kick.set()
        if changed:
            self.on_change()


def run_probe(probe: dict, pod_ip: str, ports: dict[str, int], transport: ProbeTransport,
              runner: ExecRunner, container_id: str) -> tuple[bool, str]:
    """One probe attempt: (success, message on failure). Never raises."""
    timeout = float(probe.get("timeoutSeconds", 1) or 1)
    try:
        if "exec" in probe:
            argv = list((probe["exec"] or {}).get("command") or [])
            code, out = runner.exec(container_id, argv, timeout)
            return code == 0, f"exec probe failed with exit code {code}: {out[-200:].decode(errors='replace')}"
        if "httpGet" in probe:
            h = probe["httpGet"]
            port = _port(h.get("port"), ports)
            return _http(transport, h.get("host") or pod_ip, port, h.get("path") or "/",
                         h.get("httpHeaders") or [], timeout)
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            port = _port(t.get("port"), ports)
            sock = transport.open_tcp(t.get("host") or pod_ip, port, timeout)
            sock.close()
            return True, ""
        return False, "probe has no handler"
    except Exception as exc:  # every failure of the diagnostic is a probe failure
        return False, f"{type(exc).__name__}: {exc}"


def _port(value: int | str | None, ports: dict[str, int]) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value in ports:
        return ports[value]
    raise ValueError(f"unknown port {value!r}")


def _http(transport: ProbeTransport, host: str, port: int, path: str, headers: list[dict],
          timeout: float) -> tuple[bool, str]:
    """GET path; 200 ≤ status < 400 succeeds (the kubelet's rule)."""
    deadline = time.monotonic() + timeout
    sock = transport.open_tcp(host, port, timeout)
    try:
        extra = "".join(f"{h.get('name')}: {h.get('value')}\r\n" for h in headers if h.get("name"))
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/gitkube\r\n"
                   f"Accept: */*\r\n{extra}Connection: close\r\n\r\n")
        sock.settimeout(timeout)
        sock.sendall(request.encode())
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            if time.monotonic() > deadline:
                return False, f"Get http://{host}:{port}{path}: timeout"
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return False, f"Get http://{host}:{port}{path}: malformed response {line!r}"
    code = int(parts[1])
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"
