"""Latency of the three ways to reach a Docker engine: gitkube's unix connection, gitkube's SSH
connection (direct-streamlocal channels), and docker-py's default ``ssh://`` transport (paramiko,
one remote ``docker system dial-stdio`` per pooled URL).

Why: the agent drives every node through one NodeConnection; its SSH transport must cost about what
the local socket costs (LAB.md §2 measured docker-py's at 10× per create). All traffic goes to the
local engine, directly or through a private sshd on 127.0.0.1.

Run: python3 bench/bench_transport.py [--pings 50] [--cycles 10] [--batch 20]
SSH: the test bed's sshd from the GITKUBE_TEST_SSH_* variables (scripts/test), else a private one
started here and stopped afterwards.

Containers come from a label-free copy of the test image and carry only ``gitkube-bench=transport``:
the test bed's cleanup removes every container with a ``gitkube.io/`` label (the test image has one)
created while a test runs, so a benchmark beside a running test suite would lose containers
mid-measurement. Everything is removed at the end, the image too if it was made here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import docker  # noqa: E402

from gitkube.runtime.connection import SshOptions, connect  # noqa: E402
from testbed.images import rootfs_tar  # noqa: E402
from testbed.sshd import SshEndpoint, SshFiles, start_sshd, stop_sshd  # noqa: E402

IMAGE = "gitkube.bench/busybox:1"
LABELS = {"gitkube-bench": "transport"}
SLEEPER = ["sleep", "3600"]


@contextmanager
def bench_image(client: docker.DockerClient) -> Iterator[None]:
    try:
        client.images.get(IMAGE)
        yield
        return
    except docker.errors.ImageNotFound:
        pass
    repo, _, tag = IMAGE.rpartition(":")
    client.api.import_image_from_data(rootfs_tar(), repository=repo, tag=tag, changes=["ENV PATH=/bin"])
    try:
        yield
    finally:
        client.images.remove(IMAGE)


@contextmanager
def sshd_endpoint() -> Iterator[SshEndpoint]:
    ep = SshEndpoint.from_env()
    if ep is not None:
        yield ep
        return
    with tempfile.TemporaryDirectory(prefix="gk-bench-ssh-") as d:
        ep = start_sshd(SshFiles.ensure(d), name="bench")
        try:
            yield ep
        finally:
            stop_sshd(Path(d) / "sshd-bench.pid")


def docker_py_ssh(ep: SshEndpoint) -> docker.APIClient:
    """docker-py's own transport; it reads only $HOME/.ssh/{config,known_hosts}."""
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(ep.home)
    try:
        return docker.APIClient(base_url=ep.docker_host_url, version="auto", use_ssh_client=False)
    finally:
        os.environ["HOME"] = old or ""


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_ms(fn: Callable[[], object], n: int) -> float:
    return statistics.median(timed(fn) for _ in range(n)) * 1000


def create_start(api: docker.APIClient) -> str:
    cid = api.create_container(IMAGE, SLEEPER, labels=LABELS)["Id"]
    api.start(cid)
    return cid


def cycles_ms(api: docker.APIClient, n: int) -> list[float]:
    """Medians over n cycles of: create, inspect (a URL never used before: docker-py's ssh transport
    pays a new channel and remote process for it), start, remove, and the whole cycle."""
    steps = []
    for _ in range(n):
        marks = [time.perf_counter()]
        cid = api.create_container(IMAGE, SLEEPER, labels=LABELS)["Id"]
        marks.append(time.perf_counter())
        api.inspect_container(cid)
        marks.append(time.perf_counter())
        api.start(cid)
        marks.append(time.perf_counter())
        api.remove_container(cid, force=True)
        marks.append(time.perf_counter())
        steps.append([b - a for a, b in zip(marks, marks[1:])] + [marks[-1] - marks[0]])
    return [statistics.median(column) * 1000 for column in zip(*steps)]


def batch_s(api: docker.APIClient, n: int, workers: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: create_start(api), range(n)))
    took = time.perf_counter() - t0
    remove_ours(api)
    return took


def remove_ours(api: docker.APIClient) -> None:
    for c in api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in LABELS.items()]}):
        try:
            api.remove_container(c["Id"], force=True)
        except docker.errors.APIError as e:  # gone, or a concurrent test-bed cleanup is removing it
            if e.status_code not in (404, 409):
                raise


def measure(name: str, make: Callable[[], docker.APIClient], args: argparse.Namespace) -> list[str]:
    t0 = time.perf_counter()
    api = make()
    connect_ms = (time.perf_counter() - t0) * 1000
    try:
        api.ping()  # warm: the first request may open the pool's first connection
        row = [name, f"{connect_ms:.0f}", f"{median_ms(api.ping, args.pings):.2f}",
               *(f"{ms:.1f}" for ms in cycles_ms(api, args.cycles)),
               f"{batch_s(api, args.batch, 1):.2f}", f"{batch_s(api, args.batch, 8):.2f}"]
    finally:
        remove_ours(api)
        api.close()
    print("  ".join(row), file=sys.stderr)
    return row


HEAD = ["transport", "connect ms", "ping ms", "create ms", "inspect ms", "start ms", "remove ms", "cycle ms",
        "batch 1 worker s", "batch 8 workers s"]


def measure_all(args: argparse.Namespace) -> tuple[list[list[str]], SshEndpoint]:
    with bench_image(docker.DockerClient(base_url=args.docker_host)), sshd_endpoint() as ep:
        options = SshOptions(config_file=str(ep.config), known_hosts=str(ep.known_hosts))
        rows = [
            measure("gitkube unix", lambda: connect(args.docker_host).api, args),
            measure("gitkube ssh (streamlocal)", lambda: connect(ep.docker_host_url, options).api, args),
            measure("docker-py ssh:// (paramiko)", lambda: docker_py_ssh(ep), args),
        ]
    return rows, ep


def run(quick: bool = False) -> dict:
    """For `python3 -m bench`: the same table as a dict {transport: {column: value}}."""
    args = argparse.Namespace(pings=10 if quick else 50, cycles=3 if quick else 10, batch=8 if quick else 20,
                              docker_host=os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"))
    rows, _ = measure_all(args)
    metrics = {}
    for row in rows:
        for col, value in zip(HEAD[1:], row[1:]):
            metrics[f"{row[0]}: {col}"] = float(value)
    return {"metrics": metrics, "pings": args.pings, "cycles": args.cycles, "batch": args.batch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=50)
    ap.add_argument("--cycles", type=int, default=10, help="create+start+remove cycles")
    ap.add_argument("--batch", type=int, default=20, help="containers created+started per batch")
    ap.add_argument("--docker-host", default=os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"))
    args = ap.parse_args()
    rows, ep = measure_all(args)
    head = HEAD[:-2] + [f"{args.batch}× create+start, 1 worker s", "8 workers s"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *rows]:
        print(" | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"(medians of {args.pings} pings and {args.cycles} cycles; "
          f"engine {args.docker_host}, sshd {ep.host}:{ep.port})")


if __name__ == "__main__":
    main()
