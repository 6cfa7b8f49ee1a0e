"""Shared pieces of the runtime benchmarks: the engine client, private gitkube "clusters" (own state
file, CLI runner, agent process), a Docker event recorder for timing, bounded waits, cleanup by
label, machine facts and per-process CPU time.

Everything a benchmark makes is found again by a label and removed by it (also on SIGTERM/SIGINT
and at interpreter exit): gitkube's containers by ``gitkube.io/cluster=<state's cluster id>``, the
peers' containers by ``gitkube-bench=<run id>`` (plus the swarm service / compose project names).
Nothing here talks to anything but the local engine's socket and loopback.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
for _p in (str(ROOT), str(TESTS)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: The offline test image (tests/testbed/images.py); every system under test runs the same one.
IMAGE = "gitkube.test/busybox:1"
#: A container command that sleeps and exits at once on SIGTERM (sh/sleep as PID 1 ignore TERM).
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"]
#: Label on every peer container (SDK loop, swarm, compose) of this run; value RUN_ID.
BENCH_LABEL = "gitkube-bench"
RUN_ID = uuid.uuid4().hex[:8]
DOCKER_URL = os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock")
DOCKER_SOCK = DOCKER_URL.removeprefix("unix://")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- engine --------------------------------------------------------------------------------------

def docker_api(timeout: int = 120):
    import docker

    return docker.APIClient(base_url=DOCKER_URL, version="auto", timeout=timeout)


def engine_available() -> str | None:
    """None if the local engine answers, else why not."""
    try:
        api = docker_api(10)
        api.ping()
        api.close()
        return None
    except Exception as e:  # noqa: BLE001
        return f"no Docker engine at {DOCKER_URL}: {type(e).__name__}: {e}"


def ensure_images(api) -> dict[str, str]:
    """The test image and gitkube's pause image on the local engine; returns tag -> image ID."""
    import docker

    from gitkube.runtime.sandbox import ensure_image as ensure_pause
    from testbed.images import ensure_test_image

    ensure_test_image(docker.DockerClient(base_url=DOCKER_URL, version="auto"), IMAGE)
    pause = ensure_pause(api)
    return {IMAGE: api.inspect_image(IMAGE)["Id"], pause: api.inspect_image(pause)["Id"], "pause": pause}


def remove_containers(api, label: str | list[str], workers: int = 8) -> int:
    """Force-remove every container carrying `label` (k=v; a list: all of them), in parallel;
    returns how many."""
    import docker

    rows = api.containers(all=True, filters={"label": label})

    def rm(cid: str) -> None:
        with suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_container(cid, force=True, v=True)

    ids = [r["Id"] for r in rows]
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(rm, ids))
    except RuntimeError:  # at interpreter exit (atexit) no new futures can be scheduled: one by one
        for cid in ids:
            rm(cid)
    return len(rows)


def count_containers(api, label: str, running_only: bool = False) -> int:
    return len(api.containers(all=not running_only, filters={"label": label}))


def foreign_running(api, ours: Callable[[dict], bool] | None = None) -> int:
    """Running containers on the engine that are not this run's (other people's tests): noise."""
    rows = api.containers(filters={"status": "running"})
    return sum(1 for r in rows if not (ours or _is_ours)(r))


def _is_ours(row: dict) -> bool:
    labels = row.get("Labels") or {}
    return labels.get(BENCH_LABEL) == RUN_ID or labels.get("gitkube.io/cluster") in CLEANUP.clusters


# --- timing --------------------------------------------------------------------------------------

def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; returns its value. TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class EventRecorder:
    """Docker container events matching `label` (k=v), timestamped by the engine, on a thread.

    Passive (one streaming request), so it does not load the engine the way polling would."""

    def __init__(self, label: str):
        self.label = label
        self.events: list[tuple[float, str, str, dict]] = []  # (unix time, action, id, attributes)
        self._cond = threading.Condition()
        self._api = docker_api(timeout=None)  # the stream blocks between events
        self._stream = self._api.events(decode=True, filters={"label": label, "type": "container"})
        self._thread = threading.Thread(target=self._read, name=f"events-{label}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for ev in self._stream:
                attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                with self._cond:
                    self.events.append((ev["timeNano"] / 1e9, ev.get("Action", ""), ev.get("id", ""), attrs))
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001 -- closed
            pass

    def count(self, action: str, since: float = 0.0) -> int:
        with self._cond:
            return len({e[2] for e in self.events if e[1] == action and e[0] >= since})

    def last_time(self, action: str, since: float = 0.0) -> float | None:
        with self._cond:
            times = [e[0] for e in self.events if e[1] == action and e[0] >= since]
        return max(times) if times else None

    def wait_count(self, action: str, n: int, since: float, timeout: float) -> float:
        """Wait until `n` distinct containers had `action` at/after `since`; returns the engine time
        of the n-th. TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                times = sorted({e[2]: e[0] for e in self.events if e[1] == action and e[0] >= since}.values())
                if len(times) >= n:
                    return times[n - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(times)}/{n} '{action}' events for {self.label} after {timeout:g} s")
                self._cond.wait(min(left, 0.5))

    def close(self) -> None:
        with suppress(Exception):
            self._stream.close()
        with suppress(Exception):
            self._api.close()


# --- gitkube clusters ----------------------------------------------------------------------------

@functools.cache
def precompile_gitkube() -> None:
    """Byte-compile gitkube as `pip install .` does. A checkout run with PYTHONDONTWRITEBYTECODE
    (or a read-only tree) would compile ~100 modules in every CLI process: 0.2 s a user never pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "gitkube"), quiet=1)


class GkCluster:
    """A gitkube state file of its own (so its cluster id labels exactly its containers), the CLI,
    and `gitkube agent` processes."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str] | None = None):
        from gitkube.store import open_store

        precompile_gitkube()
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state = str(self.dir / "state.db")
        store = open_store(self.state)
        try:
            self.id = store.cluster_id()
        finally:
            store.close()
        CLEANUP.clusters.add(self.id)
        self.label = f"gitkube.io/cluster={self.id}"
        self.env = {**os.environ, "GITKUBE_STATE": self.state, **(env or {})}
        self.agent: subprocess.Popen | None = None
        self._agent_log = None

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 600, check: bool = True
            ) -> tuple[float, subprocess.CompletedProcess]:
        """Run `gitkube ARGS` as a user would (a whole process); returns (wall seconds, result)."""
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "gitkube", *args], input=stdin, capture_output=True, text=True,
                           env=self.env, cwd=ROOT, timeout=timeout)
        took = time.perf_counter() - t0
        if check and r.returncode != 0:
            raise RuntimeError(f"gitkube {' '.join(args)} exited {r.returncode}:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
        return took, r

    def start_agent(self, *extra: str) -> subprocess.Popen:
        self.stop_agent()
        self._agent_log = open(self.dir / "agent.log", "ab")
        self.agent = subprocess.Popen([sys.executable, "-m", "gitkube", "agent", *extra], env=self.env, cwd=ROOT,
                                      stdout=self._agent_log, stderr=subprocess.STDOUT, start_new_session=True)
        CLEANUP.procs.add(self.agent)
        return self.agent

    def stop_agent(self, timeout: float = 30) -> None:
        p = self.agent
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        CLEANUP.procs.discard(p)
        self.agent = None
        if self._agent_log is not None:
            self._agent_log.close()
            self._agent_log = None

    def agent_log_tail(self, n: int = 2000) -> str:
        p = self.dir / "agent.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def store(self):
        from gitkube.store import open_store

        return open_store(self.state)

    def running_pods(self, store=None) -> int:
        """Pods whose status says Running and Ready (what `get pods` shows as Running)."""
        own = store is None
        store = store or self.store()
        try:
            n = 0
            for p in store.list("Pod"):
                st = p.get("status") or {}
                if st.get("phase") == "Running" and any(
                        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []):
                    n += 1
            return n
        finally:
            if own:
                store.close()

    def destroy(self, api) -> None:
        self.stop_agent()
        remove_containers(api, self.label, workers=12)
        CLEANUP.clusters.discard(self.id)


def replicaset_yaml(name: str, replicas: int, image: str = IMAGE, grace: int = 5) -> str:
    cmd = json.dumps(SLEEPER)
    return f"""apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: {grace}
      containers:
      - name: app
        image: {image}
        imagePullPolicy: Never
        command: {cmd}
"""


def pods_yaml(prefix: str, n: int, image: str = IMAGE, grace: int = 5) -> str:
    cmd = json.dumps(SLEEPER)
    return "---\n".join(f"""apiVersion: v1
kind: Pod
metadata:
  name: {prefix}-{i}
  labels: {{app: {prefix}}}
spec:
  terminationGracePeriodSeconds: {grace}
  containers:
  - name: app
    image: {image}
    imagePullPolicy: Never
    command: {cmd}
""" for i in range(n))


# --- processes -----------------------------------------------------------------------------------

def proc_cpu_seconds(pid: int) -> float:
    """utime+stime of the whole process (all threads) from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def engine_pids() -> list[int]:
    """dockerd and its containerd (the engine's daemons; shims and runc are not included)."""
    pids = []
    for path in ("/var/run/docker.pid", "/var/run/docker/containerd/containerd.pid"):
        with suppress(OSError, ValueError):
            pid = int(Path(path).read_text().strip())
            if Path(f"/proc/{pid}").exists():
                pids.append(pid)
    return pids


class CpuMeter:
    """CPU seconds spent between start() and stop(): by this process (`client` when the work runs
    in-process), by waited-for child processes (CLI runs), by extra pids (a running agent), and by
    the engine's daemons (shared engine: other users' work is counted too)."""

    def __init__(self, pids: list[int] | None = None):
        self.pids = pids or []
        self.result: dict[str, float] = {}

    @staticmethod
    def _self_children() -> tuple[float, float]:
        import resource

        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime, b.ru_utime + b.ru_stime

    def _pids(self, pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            with suppress(OSError, ValueError, IndexError):
                total += proc_cpu_seconds(pid)
        return total

    def __enter__(self) -> "CpuMeter":
        self._engine = engine_pids()
        self._s0, self._c0 = self._self_children()
        self._p0 = self._pids(self.pids)
        self._e0 = self._pids(self._engine)
        return self

    def __exit__(self, *exc) -> None:
        s1, c1 = self._self_children()
        self.result = {"self_cpu_s": s1 - self._s0, "children_cpu_s": c1 - self._c0,
                       "pids_cpu_s": self._pids(self.pids) - self._p0,
                       "engine_cpu_s": self._pids(self._engine) - self._e0}


def dockerd_pid() -> int | None:
    for path in ("/var/run/docker.pid", "/run/docker.pid"):
        with suppress(OSError, ValueError):
            pid = int(Path(path).read_text().strip())
            if Path(f"/proc/{pid}").exists():
                return pid
    return None


# --- cleanup -------------------------------------------------------------------------------------

class _Cleanup:
    """What must go even if the run is interrupted: agent processes, cluster containers, peer
    containers, and extra callbacks (swarm leave, compose down, sshd stop)."""

    def __init__(self):
        self.clusters: set[str] = set()
        self.procs: set[subprocess.Popen] = set()
        self.callbacks: dict[str, Callable[[], None]] = {}
        self.workdirs: list[Path] = []

    def run(self) -> None:
        for p in list(self.procs):
            with suppress(Exception):
                if p.poll() is None:
                    p.terminate()
                    p.wait(20)
        for p in list(self.procs):
            with suppress(Exception):
                if p.poll() is None:
                    p.kill()
        self.procs.clear()
        for name, cb in list(self.callbacks.items()):
            try:
                cb()
            except Exception as e:  # noqa: BLE001
                log(f"cleanup {name} failed: {e}")
            self.callbacks.pop(name, None)
        if True:  # peers' containers of this run, and every cluster's, whatever state they are in
            try:
                api = docker_api(60)
                for cid in list(self.clusters):
                    remove_containers(api, f"gitkube.io/cluster={cid}")
                remove_containers(api, f"{BENCH_LABEL}={RUN_ID}")
                api.close()
            except Exception as e:  # noqa: BLE001
                log(f"cleanup of containers failed: {e}")
        self.clusters.clear()
        for d in self.workdirs:
            shutil.rmtree(d, ignore_errors=True)
        self.workdirs.clear()


CLEANUP = _Cleanup()
_cleanup_installed = False


def install_cleanup() -> None:
    """atexit + SIGTERM/SIGHUP turned into SystemExit, so `finally` blocks and CLEANUP run."""
    global _cleanup_installed
    if _cleanup_installed:
        return
    _cleanup_installed = True
    atexit.register(CLEANUP.run)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)


def workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"gk-bench-{RUN_ID}-"))
    CLEANUP.workdirs.append(d)
    return d


# --- sharing the engine with test runs -----------------------------------------------------------

_RUNS_DIR = Path("/run/lock/gitkube-test-runs")


@contextmanager
def shared_engine_guard() -> Iterator[None]:
    """Keep concurrent pytest runs (tests/conftest.py) from removing our containers mid-measurement.

    The test bed's cleanup removes every container with a ``gitkube.io/`` label created during a test
    -- gitkube's pods, and anything made from the test or pause image (their image labels) -- unless
    another test run is registered in /run/lock/gitkube-test-runs/<pid> with a live process whose
    command line says pytest. We register a tiny watchdog process that says so and dies with us;
    while it lives, test runs restrict their cleanup to their own ``gitkube.io/test-run`` label."""
    proc = None
    marker = None
    try:
        _RUNS_DIR.mkdir(parents=True, exist_ok=True)
        code = ("import os,sys,time\nparent=int(sys.argv[1])\n"
                "while os.getppid()==parent: time.sleep(1)\n")
        proc = subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), "gitkube-bench-as-pytest-run"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        marker = _RUNS_DIR / str(proc.pid)
        marker.write_text(f"gitkube-bench-{RUN_ID}")
    except OSError as e:
        log(f"could not register with the test bed ({e}); a concurrent pytest run may remove our containers")
    try:
        yield
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
        if proc is not None:
            proc.terminate()
            with suppress(Exception):
                proc.wait(5)


def pytest_running() -> bool:
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        with suppress(OSError):
            cmd = (d / "cmdline").read_bytes()
            if b"pytest" in cmd and b"gitkube-bench-as-pytest-run" not in cmd:
                return True
    return False


# --- machine -------------------------------------------------------------------------------------

def machine_info() -> dict:
    info: dict = {"python": platform.python_version(), "kernel": platform.release(), "arch": platform.machine(),
                  "cpus": os.cpu_count()}
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    info["cgroup"] = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"
    with suppress(Exception):
        api = docker_api(10)
        v, i = api.version(), api.info()
        info["docker"] = {"server": v.get("Version"), "api": v.get("ApiVersion"), "storage": i.get("Driver"),
                          "cgroup_driver": i.get("CgroupDriver"), "containers_running": i.get("ContainersRunning"),
                          "swarm": (i.get("Swarm") or {}).get("LocalNodeState")}
        api.close()
    with suppress(Exception):
        import docker
        import paramiko

        info["docker_py"], info["paramiko"] = docker.__version__, paramiko.__version__
    with suppress(Exception):
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gitkube"], cwd=ROOT, capture_output=True,
                               text=True)
        info["gitkube_commit"] = rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    with suppress(OSError):
        info["loadavg_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    return info


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
