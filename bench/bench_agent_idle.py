"""The agent at rest: CPU of an idle `gitkube agent` holding 200 running pods, and how long one full
pass (`Agent.step()`) takes at that size.

1. `gitkube apply --wait` of a ReplicaSet with 200 replicas (400 containers; its wall time is
   reported as the 200-pod cold start).
2. `gitkube agent` (defaults: 8 workers, resync 10 s) is started and left to settle; then its CPU
   time (utime+stime of all threads, /proc/PID/stat) is sampled over 30 s (quick: 10 s) -> % of one
   core. The engine's dockerd CPU over the same window is reported too (shared engine: noisy).
3. The agent is stopped and an `Agent` is built in this process on the same state file; `step()`
   is timed: the first pass (empty container-state cache: one inspect per container) and then
   warm passes (nothing to do: what every resync costs). The phases of a warm pass are timed by
   wrapping gitkube's functions in this process only, the Docker requests of a pass are counted at
   gitkube's HTTP adapter, and one warm pass is profiled (cProfile, top functions).

Targets: idle agent < 5 % of one core; one pass < 0.5 s.
Run: python3 -m bench.bench_agent_idle [--quick] [--pods 200] [--window 30] [--profile-dir DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_converge import agent_settled  # noqa: E402
from bench.harness import (EventRecorder, GkCluster, docker_api, dockerd_pid, ensure_images,  # noqa: E402
                           foreign_running, install_cleanup, log, median, proc_cpu_seconds, r3, replicaset_yaml,
                           workdir)

CPU_TARGET_PCT = 5.0
PASS_TARGET_S = 0.5


def cpu_window(pid: int, seconds: float) -> tuple[float, float | None]:
    """% of one core used by `pid` over `seconds`, and dockerd's over the same window."""
    dpid = dockerd_pid()
    c0, d0, t0 = proc_cpu_seconds(pid), (proc_cpu_seconds(dpid) if dpid else None), time.monotonic()
    time.sleep(seconds)
    c1, d1, t1 = proc_cpu_seconds(pid), (proc_cpu_seconds(dpid) if dpid else None), time.monotonic()
    wall = t1 - t0
    return (c1 - c0) / wall * 100, (None if d0 is None or d1 is None else (d1 - d0) / wall * 100)


@contextmanager
def phase_timers(timings: Counter):
    """Wrap the pieces of Agent.step (in this process only) to time them; restores them after."""
    import gitkube.agent.loop as loop
    from gitkube.agent.kubelet import Kubelet
    from gitkube.runtime.pods import PodRuntime

    originals = []

    def wrap(owner, attr: str, key: str):
        fn = getattr(owner, attr)
        originals.append((owner, attr, fn))

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                timings[key] += time.perf_counter() - t0
        setattr(owner, attr, timed)

    wrap(loop, "take_snapshot", "store snapshot (list 10 kinds)")
    wrap(loop, "write_changes", "controller writes")
    wrap(loop.Agent, "_observe", "list containers (engine)")
    wrap(PodRuntime, "_inspect_state", "inspect containers (engine)")
    wrap(Kubelet, "sync_node", "kubelet: plan every pod")
    wrap(loop.Agent, "_write", "status/event writes")
    wrap(loop.Agent, "_bind", "scheduler")
    try:
        yield
    finally:
        for owner, attr, fn in reversed(originals):
            setattr(owner, attr, fn)


@contextmanager
def count_requests(counter: Counter):
    """Count Docker API requests gitkube's HTTP adapter sends (method + path without ids)."""
    import re

    from gitkube.runtime.dockerhttp import NodeAdapter

    orig = NodeAdapter.send

    def send(self, request, *a, **kw):
        path = re.sub(r"/v[\d.]+/", "/", request.path_url.split("?")[0])
        path = re.sub(r"/[0-9a-f]{64}", "/<id>", path)
        counter[f"{request.method} {path}"] += 1
        return orig(self, request, *a, **kw)

    NodeAdapter.send = send
    try:
        yield
    finally:
        NodeAdapter.send = orig


def idle_in_process(state: str, seconds: float) -> dict:
    """An Agent in this process, left alone for `seconds` after its first pass: how many passes it
    ran, what woke it, and the CPU this process used meanwhile (nothing else runs here then)."""
    import resource
    import threading

    import gitkube.agent.loop as loop
    from gitkube.store import open_store

    store = open_store(state)
    agent = loop.Agent(store, workers=8)
    steps: list[float] = []
    orig_step = agent.step

    def step() -> float:
        t0 = time.perf_counter()
        try:
            return orig_step()
        finally:
            steps.append(time.perf_counter() - t0)

    agent.step = step  # type: ignore[method-assign]
    thread = threading.Thread(target=agent.run, kwargs={"timeout": seconds + 30}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not steps and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the first pass (inspects every container) and what it queued
    n0, t0 = len(steps), time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - t0
    passes = steps[n0:]
    agent.stop()
    thread.join(30)
    # Agent.close() does not wait for its store-watch thread, which polls the store for up to 1 s
    # more: closing the store under it makes it die with "Cannot operate on a closed database"
    for t in threading.enumerate():
        if t.name == "store-watch":
            t.join(5)
    store.close()
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {"passes": len(passes), "pass_s_total": sum(passes), "cpu_pct": cpu / wall * 100, "wall_s": wall}


def time_passes(state: str, warm_passes: int) -> dict:
    from gitkube.agent.loop import Agent
    from gitkube.agent.nodes import ensure_local_node
    from gitkube.store import open_store

    store = open_store(state)
    agent = Agent(store, workers=8)
    try:
        ensure_local_node(store)
        agent.nodes.sync(store.list("Node"))
        agent.nodes.wait_first_beats(10.0)
        requests: Counter = Counter()
        with count_requests(requests):
            t0 = time.perf_counter()
            agent.step()
            first = time.perf_counter() - t0
        first_requests = sum(requests.values())
        time.sleep(0.5)  # let anything the first pass queued finish (nothing, when converged)
        phases: Counter = Counter()
        warm, warm_requests = [], Counter()
        for _ in range(warm_passes):
            with phase_timers(phases), count_requests(warm_requests):
                t0 = time.perf_counter()
                agent.step()
                warm.append(time.perf_counter() - t0)
        prof = cProfile.Profile()
        prof.enable()
        agent.step()
        prof.disable()
        top = _top_functions(prof, 12)
        in_flight = agent.executor.in_flight
        pods = len(store.list("Pod"))
    finally:
        agent.stop()
        agent.close()
        store.close()
    return {"first_pass_s": first, "first_pass_requests": first_requests, "warm_passes_s": warm,
            "warm_pass_requests": {k: v / max(1, warm_passes) for k, v in warm_requests.items()},
            "phases_s": {k: v / max(1, warm_passes) for k, v in phases.items()},
            "profile_top": top, "in_flight_after": in_flight, "pods": pods}


def _top_functions(prof: cProfile.Profile, n: int) -> list[str]:
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = "/".join(Path(file).parts[-2:]) if file != "~" else ""
        rows.append((tt, ct, nc, f"{short}:{line}({fn})"))
    rows.sort(reverse=True)
    return [f"{tt * 1000:7.1f} ms self {ct * 1000:7.1f} ms cum {nc:6d} calls {name}" for tt, ct, nc, name in rows[:n]]


def run(quick: bool = False, pods: int = 200, window: float | None = None, profile_dir: str | None = None) -> dict:
    window = window or (10.0 if quick else 30.0)
    api = docker_api()
    ensure_images(api)
    work = workdir()
    c = GkCluster(work, "idle")
    notes = []
    t_start = time.monotonic()
    try:
        noise = foreign_running(api)
        took, _ = c.cli("apply", "-f", "-", "--wait", "--timeout", "900s", stdin=replicaset_yaml("idle", pods),
                        timeout=960)
        running = len(api.containers(filters={"label": c.label, "status": "running"}))
        log(f"agent_idle: {pods} pods running after {took:.1f} s ({running} containers)")
        p = c.start_agent()
        settle = agent_settled(c, timeout=60)
        spy = None
        if profile_dir and shutil.which("py-spy"):
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(["py-spy", "record", "-p", str(p.pid), "-d", str(int(window)), "-r", "100",
                                    "--threads", "-f", "speedscope", "-o", f"{profile_dir}/agent_idle.speedscope.json"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        others = EventRecorder("gitkube.io/managed-by=gitkube")  # what wakes the agent's event watcher
        t_win = time.time()
        try:
            cpu_pct, dockerd_pct = cpu_window(p.pid, window)
        finally:
            others.close()
        foreign = [e for e in others.events if e[0] >= t_win and e[3].get("gitkube.io/cluster") != c.id]
        wakers = [e for e in foreign if e[1] in ("die", "start", "destroy", "oom", "kill", "create")]
        if spy is not None:
            spy.wait(window + 30)
            notes.append(f"py-spy profile of the idle window: {profile_dir}/agent_idle.speedscope.json "
                         "(sampling adds a little CPU of its own)")
        alive = p.poll() is None
        c.stop_agent()
        if not alive:
            raise RuntimeError(f"the agent died during the idle window:\n{c.agent_log_tail()}")
        log(f"agent_idle: agent CPU {cpu_pct:.2f} % of a core over {window:g} s (dockerd {dockerd_pct or 0:.1f} %)")
        inproc = None
        if not quick:
            inproc = idle_in_process(c.state, window)
            log(f"agent_idle: in-process agent: {inproc['passes']} passes in {inproc['wall_s']:.0f} s, "
                f"{inproc['cpu_pct']:.2f} % of a core")
        passes = time_passes(c.state, 3 if quick else 10)
        log(f"agent_idle: first pass {passes['first_pass_s']:.3f} s, warm pass median "
            f"{median(passes['warm_passes_s']):.3f} s")
    finally:
        c.destroy(api)
    warm = passes["warm_passes_s"]
    metrics = {
        "pods": pods, "cold_start_s": r3(took), "agent_settle_s": r3(settle), "window_s": window,
        "agent_cpu_pct": round(cpu_pct, 2), "dockerd_cpu_pct_same_window": None if dockerd_pct is None else round(dockerd_pct, 1),
        "first_pass_s": r3(passes["first_pass_s"]), "first_pass_docker_requests": passes["first_pass_requests"],
        "warm_pass_median_s": r3(median(warm)), "warm_pass_max_s": r3(max(warm)), "warm_passes": len(warm),
        "warm_pass_docker_requests": round(sum(passes["warm_pass_requests"].values()), 1),
    }
    metrics["foreign_gitkube_events_in_window"] = len(wakers)
    if inproc is not None:
        metrics.update({"in_process_idle_passes": inproc["passes"], "in_process_idle_window_s": round(inproc["wall_s"], 1),
                        "in_process_idle_cpu_pct": round(inproc["cpu_pct"], 2),
                        "in_process_idle_pass_time_s": round(inproc["pass_s_total"], 3)})
    for k, v in sorted(passes["phases_s"].items(), key=lambda kv: -kv[1]):
        metrics[f"warm_pass_phase_s.{k}"] = round(v, 4)
    comparisons = [
        {"what": f"idle agent CPU at {pods} pods", "ours": round(cpu_pct, 2), "peer": "target", "peer_value": CPU_TARGET_PCT,
         "unit": "% of a core", "ratio": round(cpu_pct / CPU_TARGET_PCT, 2), "target": 1.0,
         "met": cpu_pct < CPU_TARGET_PCT, "note": f"{window:g} s window, resync 10 s"},
        {"what": f"one full agent pass at {pods} pods (warm)", "ours": r3(median(warm)), "peer": "target",
         "peer_value": PASS_TARGET_S, "unit": "s", "ratio": round(median(warm) / PASS_TARGET_S, 2), "target": 1.0,
         "met": median(warm) < PASS_TARGET_S, "note": f"first pass after start: {passes['first_pass_s']:.3f} s"},
    ]
    notes.append(f"Docker requests per warm pass: {dict(passes['warm_pass_requests'])}")
    if wakers:
        notes.append(f"{len(wakers)} Docker events of other gitkube clusters' containers (other test runs on this "
                     f"engine) during the window: the agent's event watcher filters on gitkube.io/managed-by only, "
                     f"so each of them wakes a full pass of this agent")
    notes.append("warm-pass profile (cProfile, self time):\n" + "\n".join("    " + s for s in passes["profile_top"]))
    if noise:
        notes.append(f"{noise} running containers of other parties on the engine at the start (noise)")
    return {"metrics": metrics, "comparisons": comparisons, "notes": notes,
            "samples": {"warm_passes_s": [r3(x) for x in warm]}, "seconds": round(time.monotonic() - t_start, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--window", type=float)
    ap.add_argument("--profile-dir")
    a = ap.parse_args()
    install_cleanup()
    print(json.dumps(run(a.quick, a.pods, a.window, a.profile_dir), indent=1))


if __name__ == "__main__":
    main()
