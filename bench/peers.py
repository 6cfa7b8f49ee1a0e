"""The baselines gitkube's convergence is compared with, on the same engine, in the same run:

* ``SdkPods``  -- the floor: a docker-SDK create/start loop on 8 threads doing exactly the container
  work gitkube does for a pod: a pause sandbox (gitkube's own pause image, IPC shareable, stop signal
  KILL) and the app container joined to it with ``network_mode=container:<sandbox>``: 2N containers
  for N pods. Scale-down: app stopped with SIGTERM (it exits at once), then both removed.
* ``Swarm``    -- ``docker service create --replicas N`` (image by ID + ``--no-resolve-image``: no
  registry traffic; ``--stop-grace-period 0s``), scale-down with ``docker service scale S=0``. The
  engine joins a swarm only for these measurements and leaves it (plus ``docker_gwbridge``) after.
  Skipped when the engine is already in a swarm that is not ours.
* ``Compose``  -- ``docker-compose up -d --scale app=N`` (Debian's docker-compose 1.29,
  ``COMPOSE_PARALLEL_LIMIT=8``), scale-down with ``--scale app=0``.

Swarm and compose start N containers (one per replica, no sandbox), the SDK loop and gitkube 2N.
Every container carries ``gitkube-bench=<run id>``; each class removes what it made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

from bench.harness import (BENCH_LABEL, CLEANUP, DOCKER_URL, IMAGE, RUN_ID, SLEEPER, CpuMeter, EventRecorder,
                           log, remove_containers, wait_until)

WORKERS = 8


class SdkPods:
    name = "sdk"

    def __init__(self, api, pause_image: str, workers: int = WORKERS, grace: int = 5):
        self.api = api
        self.pause = pause_image
        self.workers = workers
        self.grace = grace
        self.label = f"{BENCH_LABEL}={RUN_ID}"
        self.pods: list[tuple[str, str]] = []
        self._seq = 0

    def _pod(self, i: int) -> tuple[str, str]:
        api = self.api
        labels = {BENCH_LABEL: RUN_ID, "gitkube-bench.system": "sdk"}
        name = f"gkbench_{RUN_ID}_{self._seq}_{i}"
        sandbox = api.create_container(
            self.pause, name=f"{name}_POD", hostname=f"p{i}", labels=labels, stop_signal="SIGKILL",
            host_config=api.create_host_config(ipc_mode="shareable"))["Id"]
        api.start(sandbox)
        app = api.create_container(
            IMAGE, name=f"{name}_app", entrypoint=SLEEPER, labels=labels,
            host_config=api.create_host_config(network_mode=f"container:{sandbox}", ipc_mode=f"container:{sandbox}"))["Id"]
        api.start(app)
        return sandbox, app

    def up(self, n: int) -> dict:
        self._seq += 1
        with CpuMeter() as cpu:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(self.workers) as pool:
                self.pods = list(pool.map(self._pod, range(n)))
            took = time.perf_counter() - t0
        return {"seconds": took, "client_cpu_s": cpu.result["self_cpu_s"], "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def _down_one(self, pod: tuple[str, str]) -> None:
        sandbox, app = pod
        self.api.stop(app, timeout=self.grace)
        self.api.remove_container(app, v=True, force=True)
        self.api.remove_container(sandbox, v=True, force=True)

    def down(self) -> dict:
        with CpuMeter() as cpu:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(self._down_one, self.pods))
            took = time.perf_counter() - t0
        self.pods = []
        return {"seconds": took, "client_cpu_s": cpu.result["self_cpu_s"], "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def cleanup(self) -> None:
        self.pods = []
        remove_containers(self.api, [self.label, "gitkube-bench.system=sdk"])


def docker_cli() -> str | None:
    return shutil.which("docker")


class Swarm:
    """Context manager: joins a single-node swarm on enter, leaves it (and removes the gateway
    bridge it made) on exit."""

    name = "swarm"

    def __init__(self, api, image_id: str, grace: str = "0s"):
        self.api = api
        self.image_id = image_id
        self.grace = grace
        self.service: str | None = None
        self.n = 0
        self.init_seconds: float | None = None
        self._had_gwbridge = False
        self._joined = False

    @staticmethod
    def unavailable(api) -> str | None:
        if docker_cli() is None:
            return "no docker CLI on PATH"
        state = (api.info().get("Swarm") or {}).get("LocalNodeState")
        if state not in ("inactive", None, ""):
            return f"the engine is already in a swarm (state {state!r}) that this run did not create"
        return None

    def _docker(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([docker_cli() or "docker", *args], capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, "DOCKER_HOST": DOCKER_URL})
        if check and r.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {r.stderr.strip()[-500:]}")
        return r

    def __enter__(self) -> "Swarm":
        self._had_gwbridge = bool(self.api.networks(names=["docker_gwbridge"]))
        CLEANUP.callbacks["swarm"] = self.leave
        t0 = time.perf_counter()
        self._docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
        self._joined = True
        self.init_seconds = time.perf_counter() - t0
        return self

    def __exit__(self, *exc) -> None:
        self.leave()

    def up(self, n: int) -> dict:
        self.service = f"gkbench-{RUN_ID}-{n}"
        self.n = n
        label = f"com.docker.swarm.service.name={self.service}"
        rec = EventRecorder(label)
        try:
            t0 = time.time()
            with CpuMeter() as cpu:
                self._docker("service", "create", "--detach", "--no-resolve-image", "--name", self.service,
                             "--replicas", str(n), "--stop-grace-period", self.grace,
                             "--container-label", f"{BENCH_LABEL}={RUN_ID}", "--restart-condition", "none",
                             "--entrypoint", SLEEPER[0], self.image_id, *SLEEPER[1:])
                last = rec.wait_count("start", n, t0, timeout=max(60, 2 * n))
            running = len(self.api.containers(filters={"label": label, "status": "running"}))
        finally:
            rec.close()
        return {"seconds": last - t0, "running": running, "client_cpu_s": cpu.result["children_cpu_s"],
                "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def down(self) -> dict:
        assert self.service
        label = f"com.docker.swarm.service.name={self.service}"
        rec = EventRecorder(label)
        try:
            t0 = time.time()
            with CpuMeter() as cpu:
                self._docker("service", "scale", "--detach", f"{self.service}=0")
                last = rec.wait_count("die", self.n, t0, timeout=max(60, 2 * self.n))
                running = lambda: self.api.containers(filters={"label": label, "status": "running"})  # noqa: E731
                if running():  # more tasks than replicas were started (e.g. a replaced one): wait for all
                    wait_until(lambda: not running(), max(60, self.n), 0.2, "swarm tasks to stop")
                    last = time.time()
        finally:
            rec.close()
        # swarm keeps stopped task containers as history; `service rm` removes them (not timed)
        self._docker("service", "rm", self.service, check=False)
        with suppress(TimeoutError):
            wait_until(lambda: not self.api.containers(all=True, filters={"label": label}), 60,
                       what="swarm task containers to go")
        self.service = None
        return {"seconds": last - t0, "client_cpu_s": cpu.result["children_cpu_s"],
                "engine_cpu_s": cpu.result["engine_cpu_s"]}

    def reset(self) -> None:
        """After a failed point: the service and its containers go, the swarm stays."""
        if self.service:
            self._docker("service", "rm", self.service, check=False)
            self.service = None
        remove_containers(self.api, [f"{BENCH_LABEL}={RUN_ID}", "com.docker.swarm.service.name"])

    def leave(self) -> None:
        if not self._joined:
            return
        if self.service:
            self._docker("service", "rm", self.service, check=False)
            self.service = None
        self._docker("swarm", "leave", "--force", check=False)
        self._joined = False
        if not self._had_gwbridge:
            for _ in range(20):
                if not self.api.networks(names=["docker_gwbridge"]):
                    break
                r = self._docker("network", "rm", "docker_gwbridge", check=False)
                if r.returncode == 0:
                    break
                time.sleep(0.5)
        remove_containers(self.api, [f"{BENCH_LABEL}={RUN_ID}", "com.docker.swarm.service.name"])
        CLEANUP.callbacks.pop("swarm", None)


class Compose:
    name = "compose"

    def __init__(self, api, grace: int = 5, parallel: int = WORKERS):
        self.api = api
        self.grace = grace
        self.project = f"gkbench{RUN_ID}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"gk-bench-compose-{RUN_ID}-"))
        self.file = self.dir / "docker-compose.yml"
        self.file.write_text(json.dumps({  # JSON is YAML
            "version": "2.4",
            "services": {"app": {"image": IMAGE, "entrypoint": [a.replace("$", "$$") for a in SLEEPER], "network_mode": "bridge",
                                 "labels": {BENCH_LABEL: RUN_ID}, "stop_grace_period": f"{grace}s"}},
        }, indent=1))
        self.env = {**os.environ, "DOCKER_HOST": DOCKER_URL, "COMPOSE_PARALLEL_LIMIT": str(parallel),
                    "COMPOSE_INTERACTIVE_NO_CLI": "1"}
        self.n = 0
        CLEANUP.callbacks[f"compose-{self.project}"] = self.cleanup

    @staticmethod
    def unavailable() -> str | None:
        if shutil.which("docker-compose") is None:
            return "docker-compose not installed (apt-get install docker-compose)"
        return None

    def _compose(self, *args: str, timeout: float = 600) -> float:
        with CpuMeter() as cpu:
            t0 = time.perf_counter()
            r = subprocess.run(["docker-compose", "-p", self.project, "-f", str(self.file), *args],
                               capture_output=True, text=True, env=self.env, timeout=timeout, cwd=self.dir)
            took = time.perf_counter() - t0
        self.cpu = cpu.result
        if r.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)}: {r.stderr.strip()[-800:]}")
        return took

    def up(self, n: int) -> dict:
        self.n = n
        took = self._compose("up", "-d", "--no-recreate", "--scale", f"app={n}")
        running = len(self.api.containers(filters={"label": f"com.docker.compose.project={self.project}",
                                                   "status": "running"}))
        return {"seconds": took, "running": running, "client_cpu_s": self.cpu["children_cpu_s"],
                "engine_cpu_s": self.cpu["engine_cpu_s"]}

    def down(self) -> dict:
        took = self._compose("up", "-d", "--scale", "app=0", "-t", str(self.grace))
        left = len(self.api.containers(all=True, filters={"label": f"com.docker.compose.project={self.project}"}))
        return {"seconds": took, "left": left, "client_cpu_s": self.cpu["children_cpu_s"],
                "engine_cpu_s": self.cpu["engine_cpu_s"]}

    def reset(self) -> None:
        """Every container of the project goes; the project file stays for the next point."""
        with suppress(Exception):
            self._compose("down", "-t", "0", "--remove-orphans", timeout=120)
        remove_containers(self.api, f"com.docker.compose.project={self.project}")

    def cleanup(self) -> None:
        self.reset()
        shutil.rmtree(self.dir, ignore_errors=True)
        CLEANUP.callbacks.pop(f"compose-{self.project}", None)


def smoke(n: int = 3) -> None:
    """python3 -m bench.peers: each baseline once with n replicas (a check that they work here)."""
    from bench.harness import docker_api, ensure_images, install_cleanup

    install_cleanup()
    api = docker_api()
    images = ensure_images(api)
    sdk = SdkPods(api, images["pause"])
    log(f"sdk up {sdk.up(n)} down {sdk.down()}")
    why = Swarm.unavailable(api)
    if why:
        log(f"swarm skipped: {why}")
    else:
        with Swarm(api, images[IMAGE]) as sw:
            log(f"swarm init {sw.init_seconds:.2f}s up {sw.up(n)} down {sw.down()}")
    why = Compose.unavailable()
    if why:
        log(f"compose skipped: {why}")
    else:
        c = Compose(api)
        try:
            log(f"compose up {c.up(n)} down {c.down()}")
        finally:
            c.cleanup()


if __name__ == "__main__":
    smoke()
