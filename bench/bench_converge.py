"""Convergence: N pods from `gitkube apply --wait` to all Running, and back to zero with
`gitkube scale rs --replicas=0`, against the docker-SDK floor, Docker Swarm and docker-compose on the
same engine in the same run (bench/peers.py); and the same gitkube work over SSH.

What is timed (wall clock, engine event times for "containers started/destroyed"):

* gitkube cold start -- the whole `gitkube apply -f rs.yaml --wait` process: interpreter start, apply,
  the in-process agent (ReplicaSet controller, scheduler, kubelet on 8 workers), until the ReplicaSet
  reports N ready. The ReplicaSet runs `gitkube.test/busybox:1` (imagePullPolicy Never) with a command
  that sleeps and exits on SIGTERM.
* gitkube scale-down -- with a settled `gitkube agent` running: from `gitkube scale rs --replicas=0`
  to the engine's destroy event of the last of the 2N containers.
* gitkube scale-up (full mode; `--scale-sizes`) -- with that agent running: from
  `gitkube scale rs --replicas=N` until the ReplicaSet reports N ready; then scale-down again.
* SDK -- create+start of N sandboxes + N apps on 8 threads; down: TERM-stop app, remove both.
* swarm -- `service create --replicas N` until the N-th container start event; down: `service scale
  S=0` until the N-th die event.
* compose -- the whole `docker-compose up -d --scale app=N` process; down: `--scale app=0`.

Run: python3 -m bench.bench_converge [--quick] [--sizes 10,50] [--reps 1]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from contextlib import suppress
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (CLEANUP, IMAGE, CpuMeter, EventRecorder, GkCluster, docker_api, ensure_images,  # noqa: E402
                           foreign_running, install_cleanup, log, median, proc_cpu_seconds, r3,
                           replicaset_yaml, wait_until, workdir)
from bench.peers import Compose, SdkPods, Swarm  # noqa: E402

RS = "conv"
APPLY_TIMEOUT = 600


def agent_settled(cluster: GkCluster, timeout: float = 30.0, quiet: float = 0.1, window: float = 0.5) -> float:
    """Wait until the cluster's `gitkube agent` holds the lease and has used < `quiet` of a core over
    `window` s (its first pass -- which inspects every container once -- is over). Returns seconds."""
    p = cluster.agent
    assert p is not None
    t0 = time.monotonic()

    def has_lease() -> bool:
        with suppress(sqlite3.Error):
            con = sqlite3.connect(f"file:{cluster.state}?mode=ro", uri=True, timeout=1)
            try:
                return con.execute("SELECT count(*) FROM leases WHERE name = 'agent'").fetchone()[0] > 0
            finally:
                con.close()
        return False

    wait_until(lambda: has_lease() or p.poll() is not None, timeout, 0.1, "the agent to take its lease")
    if p.poll() is not None:
        raise RuntimeError(f"gitkube agent exited {p.returncode}:\n{cluster.agent_log_tail()}")
    while time.monotonic() - t0 < timeout:
        before = proc_cpu_seconds(p.pid)
        time.sleep(window)
        if proc_cpu_seconds(p.pid) - before < quiet * window:
            break
    return time.monotonic() - t0


class GitkubeSystem:
    """gitkube driven through its CLI, each cold start on a fresh state file."""

    name = "gitkube"

    def __init__(self, api, work: Path, tag: str = "local", env: dict[str, str] | None = None,
                 node_url: str | None = None):
        self.api = api
        self.work = work
        self.tag = tag
        self.env = env or {}
        self.node_url = node_url
        self.cluster: GkCluster | None = None
        self.n = 0
        self._seq = 0

    def up(self, n: int) -> dict:
        self.cleanup()
        self._seq += 1
        self.n = n
        c = self.cluster = GkCluster(self.work, f"{self.tag}-{n}-{self._seq}", self.env)
        if self.node_url:
            c.cli("node", "add", f"bench-{self.tag}", self.node_url)
        rec = EventRecorder(c.label)
        try:
            t0 = time.time()
            with CpuMeter() as cpu:
                took, _ = c.cli("apply", "-f", "-", "--wait", "--timeout", f"{APPLY_TIMEOUT}s",
                                stdin=replicaset_yaml(RS, n), timeout=APPLY_TIMEOUT + 60)
            last = rec.wait_count("start", 2 * n, t0, timeout=30)
            first = min((e[0] for e in rec.events if e[1] == "create" and e[0] >= t0), default=t0)
        finally:
            rec.close()
        running = len(self.api.containers(filters={"label": c.label, "status": "running"}))
        return {"seconds": took, "containers_started_s": last - t0, "first_create_s": first - t0,
                "running": running, "client_cpu_s": cpu.result["children_cpu_s"],
                "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def _agent(self) -> float:
        c = self.cluster
        assert c is not None
        if c.agent is None or c.agent.poll() is not None:
            c.start_agent("--workers", "8")
            return agent_settled(c)
        return 0.0

    def down(self) -> dict:
        """`scale rs --replicas=0` with a settled agent, until every container is destroyed."""
        c = self.cluster
        assert c is not None
        settle = self._agent()
        rec = EventRecorder(c.label)
        assert c.agent is not None
        try:
            t0 = time.time()
            with CpuMeter([c.agent.pid]) as cpu:
                c.cli("scale", "rs", RS, "--replicas=0")
                last = rec.wait_count("destroy", 2 * self.n, t0, timeout=max(120, 2 * self.n))
        except TimeoutError as e:
            raise TimeoutError(f"{e}\nagent log:\n{c.agent_log_tail()}") from None
        finally:
            rec.close()
        wait_until(lambda: not self.api.containers(all=True, filters={"label": c.label}), 30,
                   what="gitkube's containers to go")
        return {"seconds": last - t0, "agent_settle_s": settle,
                "client_cpu_s": cpu.result["children_cpu_s"] + cpu.result["pids_cpu_s"],
                "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def scale_up(self, n: int) -> dict:
        """From zero replicas: `scale rs --replicas=N` with the agent running, until N ready."""
        c = self.cluster
        assert c is not None
        self._agent()
        self.n = n
        store = c.store()
        rec = EventRecorder(c.label)
        assert c.agent is not None
        cpu = CpuMeter([c.agent.pid])
        try:
            t0 = time.time()
            cpu.__enter__()
            c.cli("scale", "rs", RS, f"--replicas={n}")

            def ready() -> bool:
                rs = store.get("ReplicaSet", "default", RS) or {}
                st = rs.get("status") or {}
                return st.get("readyReplicas", 0) >= n and st.get("observedGeneration", 0) >= \
                    rs["metadata"].get("generation", 1)

            wait_until(ready, max(120, 3 * n), 0.1, f"{n} ready replicas")
            t_ready = time.time()
            cpu.__exit__(None, None, None)
            last = rec.wait_count("start", 2 * n, t0, timeout=30)
        except TimeoutError as e:
            raise TimeoutError(f"{e}\nagent log:\n{c.agent_log_tail()}") from None
        finally:
            rec.close()
            store.close()
        return {"seconds": t_ready - t0, "containers_started_s": last - t0,
                "client_cpu_s": cpu.result["children_cpu_s"] + cpu.result["pids_cpu_s"],
                "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def cleanup(self) -> None:
        if self.cluster is not None:
            self.cluster.destroy(self.api)
            self.cluster = None


def _rotate(items: list, k: int) -> list:
    k %= len(items)
    return items[k:] + items[:k]


QUICK_PEERS = ("sdk",)
ALL_PEERS = ("sdk", "swarm", "compose")


def run(quick: bool = False, sizes: list[int] | None = None, reps: int | None = None,
        scale_sizes: list[int] | None = None, peers: tuple[str, ...] | None = None) -> dict:
    """Quick mode (to stay under 3 minutes with the rest of the suite): sizes 10 and 50, one
    repetition, scale-downs only at the largest size, and only the SDK floor as the peer (swarm and
    compose are references without a target; pass `peers` to have them anyway, at the largest size)."""
    peers = peers if peers is not None else (QUICK_PEERS if quick else ALL_PEERS)
    sizes = sizes or ([10, 50] if quick else [10, 50, 100])
    reps = reps or (1 if quick else 3)
    full_sizes = sizes if not quick else [max(sizes)]  # where the references and scale-downs run
    scale_sizes = [] if quick and scale_sizes is None else (scale_sizes if scale_sizes is not None else [100])
    api = docker_api()
    images = ensure_images(api)
    work = workdir()
    notes: list[str] = []
    # samples[phase][system][n] = [seconds, ...]
    samples: dict[str, dict[str, dict[int, list[float]]]] = {}
    extra: dict[str, dict[int, list[float]]] = {}

    def add(phase: str, system: str, n: int, value: float | dict) -> None:
        if isinstance(value, dict):  # a result: its seconds, and its CPU use under cpu_*
            for k in ("client_cpu_s", "engine_cpu_s"):
                if k in value:
                    add(f"cpu_{k.split('_')[0]}_{phase}", system, n, value[k])
            value = value["seconds"]
        samples.setdefault(phase, {}).setdefault(system, {}).setdefault(n, []).append(value)

    gk = GitkubeSystem(api, work)
    sdk = SdkPods(api, images["pause"])
    systems: list[str] = ["gitkube"]
    if "sdk" in peers:
        systems.append("sdk")
    swarm_why = Swarm.unavailable(api) if "swarm" in peers else "not selected"
    if "swarm" in peers:
        if swarm_why:
            notes.append(f"swarm skipped: {swarm_why}")
        else:
            systems.append("swarm")
    compose_why = Compose.unavailable() if "compose" in peers else "not selected"
    if "compose" in peers:
        if compose_why:
            notes.append(f"compose skipped: {compose_why}")
        else:
            systems.append("compose")
    compose = Compose(api) if "compose" in systems else None
    swarm = Swarm(api, images[IMAGE]) if "swarm" in systems else None
    noise = []
    t_start = time.monotonic()

    def point(system: str, n: int) -> None:
        if system in ("swarm", "compose") and n not in full_sizes:
            return
        down = n in full_sizes
        if system == "gitkube":
            u = gk.up(n)
            add("up", "gitkube", n, u)
            extra.setdefault("gitkube_containers_started_s", {}).setdefault(n, []).append(u["containers_started_s"])
            extra.setdefault("gitkube_first_create_s", {}).setdefault(n, []).append(u["first_create_s"])
            d = None
            if down:
                d = gk.down()
                add("down", "gitkube", n, d)
            if n in scale_sizes and down:
                s = gk.scale_up(n)
                add("scale_up", "gitkube", n, s)
                d = gk.down()
                add("scale_down", "gitkube", n, d)
            gk.cleanup()
            log(f"converge gitkube n={n}: up {u['seconds']:.2f}s (containers {u['containers_started_s']:.2f}s)"
                + (f" down {d['seconds']:.2f}s" if d else ""))
            return
        if system == "sdk":
            u = sdk.up(n)
            if not down:
                sdk.cleanup()
                add("up", system, n, u)
                log(f"converge sdk n={n}: up {u['seconds']:.2f}s")
                return
            d = sdk.down()
        elif system == "swarm":
            assert swarm is not None
            u, d = swarm.up(n), swarm.down()
        else:
            assert compose is not None
            u, d = compose.up(n), compose.down()
        add("up", system, n, u)
        add("down", system, n, d)
        log(f"converge {system} n={n}: up {u['seconds']:.2f}s down {d['seconds']:.2f}s")

    errors: list[str] = []
    try:
        if swarm is not None:
            swarm.__enter__()  # one single-node swarm for the whole run; left in `finally`
            notes.append(f"swarm joined once for this benchmark (init {swarm.init_seconds:.2f} s) and left after it")
        for rep in range(reps):
            for n in sizes:
                for system in _rotate(systems, rep + sizes.index(n)):
                    noise.append(foreign_running(api))
                    try:
                        point(system, n)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as e:  # noqa: BLE001 -- one bad point must not lose the others
                        errors.append(f"{system} n={n} rep {rep + 1}: {type(e).__name__}: {str(e).splitlines()[0]}")
                        log(f"converge {errors[-1]}")
                        for cleanup in (gk.cleanup, sdk.cleanup, *((compose.reset,) if compose else ()),
                                        *((swarm.reset,) if swarm else ())):
                            try:
                                cleanup()
                            except Exception as e2:  # noqa: BLE001
                                log(f"converge cleanup after a failed point: {e2}")
    finally:
        gk.cleanup()
        sdk.cleanup()
        if compose is not None:
            compose.cleanup()
        if swarm is not None:
            swarm.leave()
    out = summarize(samples, extra, sizes, scale_sizes, reps, notes, noise, time.monotonic() - t_start)
    if errors:
        out["status"] = "partial"
        out["notes"] = [f"{len(errors)} point(s) failed and are missing from the medians: " + "; ".join(errors)] \
            + out["notes"]
    return out


def summarize(samples: dict, extra: dict, sizes: list[int], scale_sizes: list[int], reps: int, notes: list[str],
              noise: list[int], took: float) -> dict:
    med = {phase: {sys_: {n: median(v) for n, v in per_n.items()} for sys_, per_n in per_sys.items()}
           for phase, per_sys in samples.items()}
    metrics: dict = {}
    for phase, per_sys in med.items():
        for sys_, per_n in per_sys.items():
            for n, v in per_n.items():
                metrics[f"{phase}_s.{sys_}.n{n}"] = r3(v)
    for name, per_n in extra.items():
        for n, v in per_n.items():
            metrics[f"{name}.n{n}"] = r3(median(v))
    comparisons = []
    gk = med.get("up", {}).get("gitkube", {})
    for phase, label in (("up", "cold start (apply --wait) of {n} pods"), ("down", "scale {n} pods to 0")):
        ours = med.get(phase, {}).get("gitkube", {})
        for peer in ("sdk", "swarm", "compose"):
            theirs = med.get(phase, {}).get(peer, {})
            for n in sizes:
                if n in ours and n in theirs and theirs[n] > 0:
                    target = 1.3 if (peer == "sdk" and phase == "up" and n == 50) else None
                    comparisons.append(_cmp(label.format(n=n), ours[n], peer, theirs[n], target,
                                            "containers: gitkube 2N, peer N" if peer in ("swarm", "compose") else ""))
    for n in scale_sizes:
        for phase, peer_phase, label in (("scale_up", "up", "scale rs 0→{n} Running"),
                                         ("scale_down", "down", "scale rs {n}→0")):
            ours = med.get(phase, {}).get("gitkube", {}).get(n)
            theirs = med.get(peer_phase, {}).get("sdk", {}).get(n)
            if ours and theirs:
                comparisons.append(_cmp(label.format(n=n), ours, "sdk", theirs, 1.3 if n == 100 else None, ""))
    notes = list(notes)
    notes.append(f"{reps} repetition(s) per point, median shown; systems run interleaved, order rotated")
    if any(n not in med.get("down", {}).get("gitkube", {}) for n in sizes):
        notes.append("quick mode: scale-downs (and swarm/compose if asked for) only at the largest size")
    if noise and max(noise) > 0:
        notes.append(f"other parties' running containers on the shared engine during the run: "
                     f"{min(noise)}–{max(noise)} (noise)")
    if gk:
        notes.append("gitkube 'up' includes the CLI process (interpreter start + imports + apply + agent start): "
                     "its first container was created after "
                     + ", ".join(f"{metrics.get(f'gitkube_first_create_s.n{n}')} s (N={n})"
                                 for n in sizes if f"gitkube_first_create_s.n{n}" in metrics))
    notes.append("cpu_client_*: CPU seconds of the system's own processes (gitkube CLI + agent; the SDK loop; "
                 "the docker / docker-compose CLIs); cpu_engine_*: dockerd + containerd over the same interval "
                 "(swarm's orchestrator runs inside dockerd; other users of the engine are counted too)")
    return {"metrics": metrics, "comparisons": comparisons, "notes": notes,
            "series": {"converge_up": _series(med.get("up", {})), "converge_down": _series(med.get("down", {})),
                       **({"scale": {"gitkube scale up": {str(n): v for n, v in med.get("scale_up", {}).get("gitkube", {}).items()},
                                     "gitkube scale down": {str(n): v for n, v in med.get("scale_down", {}).get("gitkube", {}).items()}}}
                          if "scale_up" in med else {})},
            "samples": {phase: {s: {str(n): [r3(x) for x in v] for n, v in per_n.items()} for s, per_n in per_sys.items()}
                        for phase, per_sys in samples.items()},
            "seconds": round(took, 1)}


def _series(per_sys: dict) -> dict:
    return {s: {str(n): r3(v) for n, v in sorted(per_n.items())} for s, per_n in per_sys.items()}


def _cmp(what: str, ours: float, peer: str, theirs: float, target: float | None, note: str) -> dict:
    ratio = ours / theirs
    return {"what": what, "ours": r3(ours), "peer": peer, "peer_value": r3(theirs), "unit": "s",
            "ratio": round(ratio, 2), "target": target, "met": None if target is None else ratio <= target,
            "note": note}


# --- over SSH --------------------------------------------------------------------------------------

def run_ssh(quick: bool = False, sizes: list[int] | None = None, reps: int | None = None,
            local: dict | None = None, down: bool | None = None) -> dict:
    """The same cold start and scale-down with the node registered as ssh://root@127.0.0.1:PORT (a
    private sshd, tests/testbed/sshd.py) vs the local socket. `local`: the converge result of this
    run, reused for the local side; else the local side is measured here, interleaved."""
    from testbed.sshd import SshFiles, start_sshd, stop_sshd

    sizes = sizes or ([50] if quick else [10, 50])
    reps = reps or (1 if quick else 3)
    down = (not quick) if down is None else down
    api = docker_api()
    ensure_images(api)
    work = workdir()
    files = SshFiles.ensure(work / "ssh")
    ep = start_sshd(files, name="bench")
    pidfile = files.root / "sshd-bench.pid"
    CLEANUP.callbacks["sshd"] = lambda: stop_sshd(pidfile)
    notes = [f"sshd on {ep.host}:{ep.port} (root's .bashrc hidden, like a clean host); gitkube's SSH transport "
             "(paramiko, direct-streamlocal channels to /var/run/docker.sock)"]
    if not down:
        notes.append("scale-down over SSH: full mode only")
    samples: dict = {}
    t_start = time.monotonic()

    def add(phase, system, n, v):
        samples.setdefault(phase, {}).setdefault(system, {}).setdefault(n, []).append(v)

    ssh = GitkubeSystem(api, work, "ssh", env={"GITKUBE_SSH_CONFIG": str(ep.config)}, node_url=ep.docker_host_url)
    loc = GitkubeSystem(api, work, "local")
    reuse = local is not None and all(f"up_s.gitkube.n{n}" in local.get("metrics", {}) for n in sizes)
    try:
        for rep in range(reps):
            for n in sizes:
                for system in _rotate(["ssh", "local"], rep) if not reuse else ["ssh"]:
                    s = ssh if system == "ssh" else loc
                    u = s.up(n)
                    add("up", system, n, u["seconds"])
                    if down:
                        d = s.down()
                        add("down", system, n, d["seconds"])
                    s.cleanup()
                    log(f"converge {system} n={n}: up {u['seconds']:.2f}s"
                        + (f" down {d['seconds']:.2f}s" if down else ""))
    finally:
        ssh.cleanup()
        loc.cleanup()
        stop_sshd(pidfile)
        CLEANUP.callbacks.pop("sshd", None)
    if reuse:
        assert local is not None
        notes.append("local side: the converge benchmark of this run")
        for n in sizes:
            samples.setdefault("up", {}).setdefault("local", {})[n] = [local["metrics"][f"up_s.gitkube.n{n}"]]
            if down and f"down_s.gitkube.n{n}" in local["metrics"]:
                samples.setdefault("down", {}).setdefault("local", {})[n] = [local["metrics"][f"down_s.gitkube.n{n}"]]
    med = {ph: {s: {n: median(v) for n, v in per.items()} for s, per in d.items()} for ph, d in samples.items()}
    metrics, comparisons = {}, []
    for ph, d in med.items():
        for s, per in d.items():
            for n, v in per.items():
                metrics[f"{ph}_s.{s}.n{n}"] = r3(v)
    for ph, label in (("up", "cold start of {n} pods, ssh vs local"), ("down", "scale {n} pods to 0, ssh vs local")):
        for n in sizes:
            a, b = med.get(ph, {}).get("ssh", {}).get(n), med.get(ph, {}).get("local", {}).get(n)
            if a and b:
                comparisons.append(_cmp(label.format(n=n), a, "local", b, 1.5 if (ph == "up" and n == 50) else None, ""))
    return {"metrics": metrics, "comparisons": comparisons, "notes": notes,
            "series": {"ssh_up": _series(med.get("up", {}))}, "seconds": round(time.monotonic() - t_start, 1)}


# --- diagnosis: where the agent's overhead comes from --------------------------------------------

def diagnose(n: int = 50, reps: int = 1) -> dict:
    """Cold start of `n` pods (what `apply --wait` runs) and then their scale-down to 0, with the
    agent in this process: passes, Docker requests by kind (counted at gitkube's HTTP adapter) and
    this process's CPU. Wall times are as noisy as the machine; passes, requests and CPU are not."""
    import resource
    from collections import Counter

    import gitkube.agent.loop as loop
    from bench.bench_agent_idle import count_requests
    from gitkube.agent.wait import wait_for
    from gitkube.store.base import ObjectKey

    api = docker_api()
    ensure_images(api)
    work = workdir()
    orig_step = loop.Agent.step
    out: dict[str, list[dict]] = {"cold_start": [], "scale_down": []}
    for rep in range(reps):
        c = GkCluster(work, f"diag-{rep}")
        c.cli("apply", "-f", "-", stdin=replicaset_yaml(RS, n))
        store = c.store()
        try:
            for phase in ("cold_start", "scale_down"):
                passes = [0]

                def step(self, passes=passes):
                    passes[0] += 1
                    return orig_step(self)

                loop.Agent.step = step
                requests: Counter = Counter()
                if phase == "scale_down":
                    rs = store.get("ReplicaSet", "default", RS)
                    rs["spec"]["replicas"] = 0
                    store.update(rs)
                r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                with count_requests(requests):
                    if phase == "cold_start":
                        ok = wait_for(store, [ObjectKey("apps", "ReplicaSet", "default", RS)], 300, None,
                                      agent_factory=lambda: loop.Agent(store)).ok
                    else:
                        ok = loop.Agent(store).run(
                            until=lambda: not api.containers(all=True, filters={"label": c.label}),
                            timeout=max(120, 2 * n))
                wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
                loop.Agent.step = orig_step
                row = {"phase": phase, "ok": ok, "wall_s": round(wall, 2),
                       "cpu_s": round((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), 2),
                       "passes": passes[0], "requests": sum(requests.values()),
                       "per_pod": round(sum(requests.values()) / n, 1),
                       "lists": requests["GET /containers/json"], "inspects": requests["GET /containers/<id>/json"],
                       "image_inspects": sum(v for k, v in requests.items() if k.startswith("GET /images/")),
                       "volume_lists": requests["GET /volumes"]}
                out[phase].append(row)
                log("diagnose " + " ".join(f"{k}={v}" for k, v in row.items()))
        finally:
            loop.Agent.step = orig_step
            store.close()
            c.destroy(api)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", help="comma-separated pod counts")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--scale-sizes", help="comma-separated pod counts for the scale-up benchmark")
    ap.add_argument("--peers", help="comma-separated: sdk,swarm,compose (default: all; quick: sdk)")
    ap.add_argument("--ssh", action="store_true", help="run the SSH-vs-local benchmark instead")
    ap.add_argument("--diagnose", type=int, metavar="N",
                    help="in-process cold start and scale-down of N pods: agent passes, Docker requests and CPU "
                         "(see diagnose())")
    a = ap.parse_args()
    install_cleanup()
    if a.diagnose:
        from bench.harness import shared_engine_guard

        with shared_engine_guard():
            print(json.dumps(diagnose(a.diagnose, reps=a.reps or 1), indent=1))
        return
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else None
    if a.ssh:
        r = run_ssh(a.quick, sizes, a.reps)
    else:
        scale = [int(x) for x in a.scale_sizes.split(",")] if a.scale_sizes is not None and a.scale_sizes else \
            ([] if a.scale_sizes == "" else None)
        r = run(a.quick, sizes, a.reps, scale, tuple(p for p in a.peers.split(",") if p) if a.peers else None)
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
