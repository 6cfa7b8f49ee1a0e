"""PodRuntime: the side effects of running Pods as Docker containers (the dockershim model).

The kubelet controller decides; this module only does, on one Docker engine reached through a plain
`docker.APIClient` (local socket or SSH — the caller's choice). A pod is a sandbox container holding
the network and IPC namespaces, the hostPorts and the DNS settings, plus one container per app
container joined to it. Everything carries the labels of `gitkube.runtime.labels`, so the observed
state can always be rebuilt by listing labels. Docker errors are mapped here, at the boundary, into
`TransientError` (worth a retry) or `PermanentError` (wrong spec), each with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import docker
import docker.auth
import docker.utils
import paramiko
import requests
import urllib3.exceptions
from docker.types import Mount
from docker.utils.socket import frames_iter

from gitkube.errors import PermanentError, RuntimeFailure, TransientError
from gitkube.runtime import labels as L
from gitkube.runtime import quantity
from gitkube.runtime.sandbox import ensure_image as ensure_pause_image

#: Return code of `PodRuntime.exec` when the command outlived its timeout (no real exit code is negative).
EXEC_TIMED_OUT = -1
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

_ZERO_TIME = "0001-01-01T00:00:00Z"
_RUNNING_KEY = ("running", "")
_EXITED = ("exited", "dead")
_EXIT_IN_STATUS = re.compile(r"\((-?\d+)\)")
# `$(VAR)` is replaced from the container's env, `$$` escapes a dollar, anything else stays as written.
_VAR_REF = re.compile(r"\$(\$|\(([^)]*)\))")
#: How long an image seen present is trusted without asking the engine again (a create that finds it
#: gone drops it at once): the kubelet's per-start image check is one request per container otherwise.
IMAGE_PRESENT_TTL = 30.0
# Engine 5xx answers that are the spec's fault (missing executable, bad working dir), not the engine's.
_PERMANENT_5XX = ("OCI runtime", "invalid", "not a directory", "no such file or directory", "Cannot mkdir")


class ImagePullError(PermanentError):
    """An image could not be made present; `reason` is the Kubernetes waiting reason
    (`ErrImagePull` or `ErrImageNeverPull`) that the controller turns into `ImagePullBackOff`."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


@dataclass(frozen=True)
class DnsConfig:
    """Resolver settings written into the sandbox's /etc/resolv.conf, which app containers share."""

    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # resolv.conf syntax: "ndots:5"


@dataclass(frozen=True)
class ObservedContainer:
    """What one gitkube container looks like right now."""

    id: str
    name: str
    pod_uid: str
    pod_name: str
    namespace: str
    container: str  # "POD" = sandbox
    attempt: int
    spec_hash: str
    node: str
    image: str
    state: str  # created | running | exited | dead | paused | restarting | removing
    exit_code: int | None
    oom_killed: bool
    error: str
    started_at: str  # RFC 3339 or ""
    finished_at: str  # RFC 3339 or ""
    ip: str  # sandbox only: the pod IP on its Docker network
    sandbox_id: str = ""  # app containers: the sandbox they joined


@dataclass(frozen=True)
class _StateDetail:
    """The part of a container's state only `inspect` tells; fixed while the listed state is."""

    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: str = ""
    finished_at: str = ""


class PodRuntime:
    """Creates, starts, stops, removes and observes the containers of pods on one engine."""

    def __init__(
        self,
        api: docker.APIClient,
        node_name: str,
        sandbox_image: str | None = None,
        *,
        pull_timeout: float = 600.0,
        cluster: str = "",
    ):
        self.api = api
        self.node_name = node_name
        self.cluster = cluster
        self.pull_timeout = pull_timeout
        self._sandbox_image = sandbox_image
        self._sandbox_lock = threading.Lock()
        # container id -> ((State, exit code shown in Status), detail). Replaced wholesale by each
        # list, so removed containers drop out; a stale read only costs one extra inspect.
        self._details: dict[str, tuple[tuple[str, str], _StateDetail]] = {}
        # Containers this runtime started itself: their start time is known without an inspect.
        # Kept apart from _details, which a list running concurrently may replace wholesale.
        self._started: dict[str, tuple[_StateDetail, float]] = {}
        self._images_present: dict[str, float] = {}  # image -> time.monotonic() it was last seen
        # Containers on their way out with their pod (stop then remove): how they ended is of no
        # interest, so a list that sees them exited does not inspect them. id -> time.monotonic().
        self._going: dict[str, float] = {}

    # -- observing ---------------------------------------------------------------------------

    def list_containers(self) -> list[ObservedContainer]:
        """Every gitkube container of this node on this engine, running or not: one list call, plus
        one inspect per container whose state changed since the last call (exit code, times, error).

        Only this node's containers: several nodes (or test runs) may share one engine, and a
        kubelet that saw another node's pods would take them for orphans and remove them.
        The cache key is the State and the exit code inside Status — not the whole Status, whose
        "Up 5 seconds" changes on every call and would force an inspect of every running container.
        """
        selector = [f"{L.MANAGED_BY}={L.MANAGED_BY_VALUE}", f"{L.NODE}={self.node_name}"]
        if self.cluster:
            selector.append(f"{L.CLUSTER}={self.cluster}")
        with _mapped("list containers"):
            rows = self.api.containers(all=True, filters={"label": selector})
        details = {}
        observed = []
        for row in rows:
            m = _EXIT_IN_STATUS.search(row.get("Status") or "")
            key = (row.get("State") or "", m.group(1) if m else "")
            cached = self._details.get(row["Id"])
            if (cached is None or cached[0] != key) and key == _RUNNING_KEY and row["Id"] in self._started:
                cached = (key, self._started[row["Id"]][0])  # an earlier list may have seen it "created"
            if cached is None or cached[0] != key:
                # a never-started container has nothing to inspect for, a departing one nothing of use
                if key[0] == "created" or (key != _RUNNING_KEY and row["Id"] in self._going):
                    detail = _StateDetail()
                else:
                    detail = self._inspect_state(row["Id"])
                if detail is None:  # removed between the list and the inspect
                    continue
                cached = (key, detail)
            details[row["Id"]] = cached
            observed.append(_observe_row(row, cached[1]))
        self._details = details
        cutoff = time.monotonic() - 60.0
        if self._going:
            self._going = {cid: t for cid, t in self._going.items() if t > cutoff}
        if self._started:  # seen running by this list (now in _details), or too old to be still unseen
            self._started = {cid: v for cid, v in self._started.items()
                             if v[1] > cutoff and (cid not in details or details[cid][0] != _RUNNING_KEY)}
        return observed

    def _inspect_state(self, container_id: str) -> _StateDetail | None:
        try:
            with _mapped(f"inspect container {container_id[:12]}"):
                return _detail(self.api.inspect_container(container_id)["State"])
        except PermanentError:
            return None

    # -- sandbox -----------------------------------------------------------------------------

    def ensure_sandbox_image(self) -> str:
        """The configured sandbox image, or gitkube's own pause image, imported on first use."""
        with self._sandbox_lock:
            if self._sandbox_image is None:
                with _mapped("prepare sandbox image"):
                    self._sandbox_image = ensure_pause_image(self.api)
            return self._sandbox_image

    def run_sandbox(self, pod: dict, dns: DnsConfig | None = None, *, attempt: int = 0,
                    want_ip: bool = True) -> ObservedContainer:
        """Create and start the pod's sandbox; returns it with the pod IP (one inspect), or with
        `want_ip=False` without it and without the inspect (the next list shows the IP)."""
        meta = _PodMeta.of(pod)
        spec = pod.get("spec") or {}
        what = f"sandbox of pod {meta.ref}"
        hostname = _hostname(pod)
        bindings = _port_bindings(spec)
        extra_hosts = [f"{h}:{a['ip']}" for a in spec.get("hostAliases") or [] for h in a.get("hostnames") or []]
        dns = dns or DnsConfig()
        settings = {"hostname": hostname, "ports": bindings, "hosts": extra_hosts, "dns": asdict(dns)}
        # Memory-backed emptyDirs are mounted into the sandbox too: a tmpfs volume is unmounted (and
        # emptied) when its last user stops, and the pod's volumes must outlive container restarts.
        memory_vols = [v for v in spec.get("volumes") or [] if _is_memory_empty_dir(v)]
        mounts = [
            Mount(f"/.gitkube/volumes/{v['name']}", self._ensure_empty_dir(meta, v, what)[0], no_copy=True)
            for v in memory_vols
        ]
        host_config = self.api.create_host_config(
            port_bindings=bindings or None,
            ipc_mode="shareable",
            dns=list(dns.nameservers) or None,
            dns_search=list(dns.searches) or None,
            dns_opt=list(dns.options) or None,
            extra_hosts=extra_hosts or None,
            mounts=mounts or None,
        )
        image = self.ensure_sandbox_image()
        name = f"gk_{L.SANDBOX}_{meta.name}_{meta.namespace}_{meta.uid[:8]}_{attempt}"
        labels = self._labels(meta, L.SANDBOX, "sandbox", attempt, _hash(settings))
        with _mapped(f"create {what}"):
            cid = self.api.create_container(
                image,
                name=name,
                hostname=hostname,
                labels=labels,
                ports={port: {} for port in bindings} or None,
                stop_signal="SIGKILL",  # /pause has no handlers: TERM would only wait out the grace period
                host_config=host_config,
            )["Id"]
        self._start(cid, what)
        if not want_ip:
            return _observed(cid, name, labels, image, "running", self._started[cid][0], "")
        with _mapped(f"inspect {what}"):
            return _observe_inspect(self.api.inspect_container(cid))

    # -- app containers ----------------------------------------------------------------------

    def pull_image(self, image: str, policy: str) -> None:
        """Make `image` present with Kubernetes pull-policy semantics; raises ImagePullError."""
        if policy not in PULL_POLICIES:
            raise PermanentError(f"imagePullPolicy {policy!r} is not one of {', '.join(PULL_POLICIES)}")
        if policy != "Always" and self._image_present(image):
            return
        if policy == "Never":
            raise ImagePullError(
                "ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never'
            )
        self._pull(image)

    def _image_present(self, image: str) -> bool:
        seen = self._images_present.get(image)
        if seen is not None and time.monotonic() - seen < IMAGE_PRESENT_TTL:
            return True
        try:
            with _mapped(f"inspect image {image}"):
                self.api.inspect_image(image)
        except PermanentError:
            self._images_present.pop(image, None)
            return False
        self._images_present[image] = time.monotonic()
        return True

    def _pull(self, image: str) -> None:
        """POST /images/create with a deadline. docker-py's own `pull` passes timeout=None and can
        block forever on a stalled registry, so the request is made here with a read timeout and the
        progress stream is checked against an overall deadline."""
        repo, tag = docker.utils.parse_repository_tag(image)
        registry, _ = docker.auth.resolve_repository_name(repo)
        auth = docker.auth.get_config_header(self.api, registry)
        deadline = time.monotonic() + self.pull_timeout
        response = None
        try:
            response = self.api._post(
                self.api._url("/images/create"),
                params={"fromImage": repo, "tag": tag or "latest"},
                headers={"X-Registry-Auth": auth} if auth else {},
                stream=True,
                timeout=(30, self.pull_timeout),
            )
            self.api._raise_for_status(response)
            for event in self.api._stream_helper(response, decode=True):
                if "error" in event:
                    raise ImagePullError("ErrImagePull", _one_line(event["error"]))
                if time.monotonic() > deadline:
                    raise ImagePullError("ErrImagePull", f"pulling {image} took more than {self.pull_timeout:g} s")
        except docker.errors.APIError as e:
            raise ImagePullError("ErrImagePull", _one_line(e.explanation or str(e))) from e
        except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError) as e:
            raise ImagePullError("ErrImagePull", f"pulling {image}: no progress for {self.pull_timeout:g} s") from e
        except (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            docker.errors.DockerException,
            OSError,
        ) as e:
            raise TransientError(f"pull {image}: {_one_line(str(e))}") from e
        finally:
            if response is not None:
                response.close()

    def run_container(
        self,
        pod: dict,
        container: dict,
        sandbox: ObservedContainer,
        attempt: int,
        env: dict[str, str],
        spec_hash: str,
    ) -> ObservedContainer:
        """Create and start one app (or init) container inside `sandbox`'s namespaces.

        `env` is final (the caller resolved valueFrom); `$(VAR)` references in command and args are
        expanded from it here, as the kubelet does. Returns without an inspect: fields only an
        inspect knows (start time) are empty until the next `list_containers`.
        """
        meta = _PodMeta.of(pod)
        name = container["name"]
        what = f"container {name} of pod {meta.ref}"
        mounts, binds = self._volume_mounts(meta, pod, container, what)
        limits = (container.get("resources") or {}).get("limits") or {}
        requests_ = (container.get("resources") or {}).get("requests") or {}
        cpu_request = requests_.get("cpu", limits.get("cpu"))
        try:
            memory = quantity.to_bytes(limits["memory"]) if "memory" in limits else None
            nano_cpus = quantity.to_nano_cpus(limits["cpu"]) if "cpu" in limits else None
            cpu_shares = quantity.to_cpu_shares(cpu_request) if cpu_request is not None else None
        except quantity.QuantityError as e:
            raise PermanentError(f"{what}: resources: {e}") from e
        host_config = self.api.create_host_config(
            network_mode=f"container:{sandbox.id}",
            ipc_mode=f"container:{sandbox.id}",
            mem_limit=memory,
            memswap_limit=memory,  # no swap on top of the limit, as in Kubernetes
            nano_cpus=nano_cpus,
            cpu_shares=cpu_shares,
            mounts=mounts or None,
            binds=binds or None,
        )
        # Kubernetes: command replaces ENTRYPOINT (and drops the image's CMD), args replaces CMD.
        entrypoint = [_expand(s, env) for s in container.get("command") or []] or None
        cmd = [_expand(s, env) for s in container.get("args") or []] or None
        docker_name = f"gk_{name}_{meta.name}_{meta.namespace}_{meta.uid[:8]}_{attempt}"
        with self._image_gone_is_transient(container["image"]), _mapped(f"create {what}"):
            cid = self.api.create_container(
                container["image"],
                name=docker_name,
                entrypoint=entrypoint,
                command=cmd,
                environment=[f"{k}={v}" for k, v in env.items()],
                working_dir=container.get("workingDir") or None,
                labels={**self._labels(meta, name, "app", attempt, spec_hash), L.SANDBOX_ID: sandbox.id},
                stdin_open=bool(container.get("stdin")),
                tty=bool(container.get("tty")),
                host_config=host_config,
            )["Id"]
        self._start(cid, what)
        return ObservedContainer(
            id=cid, name=docker_name, pod_uid=meta.uid, pod_name=meta.name, namespace=meta.namespace,
            container=name, attempt=attempt, spec_hash=spec_hash, node=self.node_name,
            image=container["image"], state="running", exit_code=None, oom_killed=False, error="",
            started_at="", finished_at="", ip="", sandbox_id=sandbox.id,
        )

    @contextmanager
    def _image_gone_is_transient(self, image: str) -> Iterator[None]:
        """An image trusted present but removed since: forget it and let the next attempt pull."""
        try:
            yield
        except PermanentError as e:
            if not isinstance(e.__cause__, docker.errors.ImageNotFound):
                raise
            self._images_present.pop(image, None)
            raise TransientError(str(e)) from e

    def _volume_mounts(self, meta: _PodMeta, pod: dict, container: dict, what: str) -> tuple[list[Mount], list[str]]:
        """Docker mounts for the container's volumeMounts: emptyDir → the pod's named volume,
        hostPath → bind. A subPath becomes a bind of a directory below the volume (the engine
        creates it), because Docker's volume subpaths need API ≥ 1.45."""
        volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
        mounts: list[Mount] = []
        binds: list[str] = []
        for vm in container.get("volumeMounts") or []:
            vol = volumes.get(vm["name"])
            if vol is None:
                raise PermanentError(f"{what}: volumeMount {vm['name']!r} names no volume of the pod")
            target, read_only, sub = vm["mountPath"], bool(vm.get("readOnly")), vm.get("subPath") or ""
            if sub.startswith("/") or ".." in sub.split("/"):
                raise PermanentError(f"{what}: subPath {sub!r} must be relative and must not contain '..'")
            mode = "ro" if read_only else "rw"
            if "emptyDir" in vol:
                volume, mountpoint = self._ensure_empty_dir(meta, vol, what)
                if sub:
                    binds.append(f"{posixpath.join(mountpoint, sub)}:{target}:{mode}")
                else:
                    mounts.append(Mount(target, volume, read_only=read_only, no_copy=True))
            elif "hostPath" in vol:
                binds.append(f"{posixpath.join(vol['hostPath']['path'], sub)}:{target}:{mode}")
            else:
                kind = next((k for k in vol if k != "name"), "?")
                raise PermanentError(f"{what}: volume {vol['name']!r}: {kind} volumes are not supported")
        return mounts, binds

    def _ensure_empty_dir(self, meta: _PodMeta, vol: dict, what: str) -> tuple[str, str]:
        """The pod's named volume for an emptyDir (created if missing); returns (name, mountpoint)."""
        opts = None
        if _is_memory_empty_dir(vol):
            opts = {"type": "tmpfs", "device": "tmpfs"}
            size = (vol.get("emptyDir") or {}).get("sizeLimit")
            try:
                if size:
                    opts["o"] = f"size={quantity.to_bytes(size)}"
            except quantity.QuantityError as e:
                raise PermanentError(f"{what}: volume {vol['name']!r}: sizeLimit: {e}") from e
        name = f"gk_{meta.uid}_{vol['name']}"
        labels = {
            L.MANAGED_BY: L.MANAGED_BY_VALUE, L.POD_UID: meta.uid, L.POD_NAME: meta.name,
            L.POD_NAMESPACE: meta.namespace, L.NODE: self.node_name,
        }
        with _mapped(f"create volume {vol['name']!r} of pod {meta.ref}"):
            created = self.api.create_volume(name, driver="local", driver_opts=opts, labels=labels)
        return name, created["Mountpoint"]

    def _labels(self, meta: _PodMeta, container: str, role: str, attempt: int, spec_hash: str) -> dict[str, str]:
        return {
            L.MANAGED_BY: L.MANAGED_BY_VALUE,
            L.POD_UID: meta.uid,
            L.POD_NAME: meta.name,
            L.POD_NAMESPACE: meta.namespace,
            L.CONTAINER_NAME: container,
            L.ATTEMPT: str(attempt),
            L.SPEC_HASH: spec_hash,
            L.ROLE: role,
            L.NODE: self.node_name,
            **({L.CLUSTER: self.cluster} if self.cluster else {}),
        }

    def _start(self, container_id: str, what: str) -> None:
        """Start a created container; if that fails, remove it so no half-made container keeps the
        name or leaks, and raise."""
        try:
            with _mapped(f"start {what}"):
                self.api.start(container_id)
        except RuntimeFailure:
            with suppress(RuntimeFailure):
                self.remove(container_id)
            raise
        # A moment after the engine's own StartedAt; saves the inspect the next list would make.
        self._started[container_id] = (_StateDetail(started_at=_now_rfc3339()), time.monotonic())

    # -- stopping and removing -----------------------------------------------------------------

    def stop(self, container_id: str, grace_seconds: int, *, departing: bool = False) -> None:
        """Stop signal (SIGTERM or the image's STOPSIGNAL), SIGKILL after the grace period; a
        container that is already stopped or gone is fine. `departing`: it is removed next, with its
        pod, and nobody needs its exit status."""
        if departing:
            self._going[container_id] = time.monotonic()
        with _mapped(f"stop container {container_id[:12]}"), suppress(docker.errors.NotFound):
            self.api.stop(container_id, timeout=max(0, int(grace_seconds)))

    def remove(self, container_id: str) -> None:
        """Force-remove (SIGKILL if running) with its anonymous volumes; gone already is fine."""
        self._going[container_id] = time.monotonic()
        with _mapped(f"remove container {container_id[:12]}"):
            try:
                self.api.remove_container(container_id, v=True, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                if e.status_code != 409 or "already in progress" not in str(e.explanation):
                    raise

    def remove_pod_volumes(self, pod_uid: str) -> None:
        """Remove the pod's emptyDir volumes; its containers must be removed first (else Transient)."""
        filters = {"label": [f"{L.MANAGED_BY}={L.MANAGED_BY_VALUE}", f"{L.POD_UID}={pod_uid}"]}
        with _mapped(f"list volumes of pod {pod_uid}"):
            volumes = self.api.volumes(filters=filters).get("Volumes") or []
        for v in volumes:
            with _mapped(f"remove volume {v['Name']}"), suppress(docker.errors.NotFound):
                self.api.remove_volume(v["Name"], force=True)

    # -- exec ----------------------------------------------------------------------------------

    def exec(self, container_id: str, argv: list[str], timeout: float) -> tuple[int, bytes]:
        """Run `argv` in the container (exec probes): (exit code, stdout+stderr).

        The output is read on a helper thread; when `timeout` passes, the connection is shut down
        and (EXEC_TIMED_OUT, output so far) returned, so a hanging command never blocks the caller.
        The command itself keeps running in the container: Docker has no API to kill an exec.
        """
        deadline = time.monotonic() + timeout
        with _mapped(f"exec in container {container_id[:12]}"):
            exec_id = self.api.exec_create(container_id, argv, stdout=True, stderr=True)["Id"]
            # What `exec_start(socket=True)` does, but holding on to the response: once it is garbage
            # collected, some transports close the socket under the reader.
            response = self.api._post_json(
                self.api._url("/exec/{0}/start", exec_id),
                headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                data={"Tty": False, "Detach": False},
                stream=True,
            )
            sock = self.api._get_raw_response_socket(response)
        output = bytearray()

        def pump() -> None:
            with suppress(OSError, ValueError, EOFError, paramiko.SSHException):  # closed on timeout
                for _stream, data in frames_iter(sock, tty=False):
                    output.extend(data)

        reader = threading.Thread(target=pump, name=f"exec-{container_id[:12]}", daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        timed_out = reader.is_alive()  # decided before the close below lets the reader finish
        _close(sock)
        with suppress(OSError, ValueError):  # already closed through `sock` on most transports
            response.close()
        if timed_out:
            reader.join(1.0)
            return EXEC_TIMED_OUT, bytes(output) + f"\nexec timed out after {timeout:g} s".encode()
        return self._exec_exit_code(exec_id, deadline), bytes(output)

    def _exec_exit_code(self, exec_id: str, deadline: float) -> int:
        """The exit code, which the engine may record a moment after the output stream closed."""
        while True:
            with _mapped("inspect exec"):
                info = self.api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() >= deadline:
                return EXEC_TIMED_OUT
            time.sleep(0.01)


# -- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PodMeta:
    name: str
    namespace: str
    uid: str

    @classmethod
    def of(cls, pod: dict) -> _PodMeta:
        md = pod.get("metadata") or {}
        if not md.get("name") or not md.get("uid"):
            raise PermanentError("pod has no metadata.name or metadata.uid")
        return cls(md["name"], md.get("namespace") or "default", md["uid"])

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@contextmanager
def _mapped(action: str) -> Iterator[None]:
    """Docker and transport errors → TransientError / PermanentError with a one-line message."""
    try:
        yield
    except docker.errors.APIError as e:
        message = f"{action}: {_one_line(e.explanation or str(e))}"
        status = e.status_code or 500
        if status == 409 or (status >= 500 and not any(s in message for s in _PERMANENT_5XX)):
            raise TransientError(message) from e
        raise PermanentError(message) from e
    except (
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        docker.errors.DockerException,
        paramiko.SSHException,
        OSError,
    ) as e:
        raise TransientError(f"{action}: {_one_line(str(e)) or type(e).__name__}") from e


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _one_line(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(text.split())


def _time(value: str | None) -> str:
    return "" if not value or value.startswith(_ZERO_TIME[:4]) else value


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _expand(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        return env.get(m.group(2), m.group(0))

    return _VAR_REF.sub(sub, text)


def _hostname(pod: dict) -> str:
    """spec.hostname, else the pod name cut to 63 characters (as the kubelet does)."""
    name = (pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"]
    return name[:63].rstrip("-.") if len(name) > 63 else name


def _port_bindings(spec: dict) -> dict[str, list[Any]]:
    """`containerPort/proto` → [hostPort or (hostIP, hostPort), ...] for every port with a hostPort."""
    bindings: dict[str, list[Any]] = {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                key = f"{p['containerPort']}/{(p.get('protocol') or 'TCP').lower()}"
                host_ip = p.get("hostIP")
                bindings.setdefault(key, []).append((host_ip, p["hostPort"]) if host_ip else p["hostPort"])
    return bindings


def _is_memory_empty_dir(vol: dict) -> bool:
    return "emptyDir" in vol and (vol.get("emptyDir") or {}).get("medium") == "Memory"


def _close(sock: Any) -> None:
    """Shut down an exec stream of any transport: unix/TCP SocketIO, paramiko channel, ssh pipe.
    shutdown() is what wakes a reader blocked in poll/recv; close() alone would not."""
    raw = getattr(sock, "_sock", sock)
    with suppress(OSError, AttributeError):
        raw.shutdown(socket.SHUT_RDWR)
    for s in (sock, raw):
        with suppress(OSError, AttributeError):
            s.close()


def _pod_ip(networks: dict | None) -> str:
    return next((n["IPAddress"] for n in (networks or {}).values() if n.get("IPAddress")), "")


def _observe_row(row: dict, detail: _StateDetail) -> ObservedContainer:
    labels = row.get("Labels") or {}
    container = labels.get(L.CONTAINER_NAME, "")
    return _observed(
        row["Id"],
        (row.get("Names") or ["/"])[0].lstrip("/"),
        labels,
        row.get("Image") or "",
        row.get("State") or "",
        detail,
        _pod_ip((row.get("NetworkSettings") or {}).get("Networks")) if container == L.SANDBOX else "",
    )


def _observe_inspect(info: dict) -> ObservedContainer:
    labels = info["Config"].get("Labels") or {}
    ip = _pod_ip(info["NetworkSettings"].get("Networks")) if labels.get(L.CONTAINER_NAME) == L.SANDBOX else ""
    return _observed(
        info["Id"], info["Name"].lstrip("/"), labels, info["Config"].get("Image") or "",
        info["State"].get("Status") or "", _detail(info["State"]), ip,
    )


def _detail(st: dict) -> _StateDetail:
    """From inspect's State; the exit code only counts once the container has exited."""
    return _StateDetail(
        exit_code=st.get("ExitCode") if st.get("Status") in _EXITED else None,
        oom_killed=bool(st.get("OOMKilled")),
        error=_one_line(st.get("Error") or ""),
        started_at=_time(st.get("StartedAt")),
        finished_at=_time(st.get("FinishedAt")),
    )


def _observed(cid: str, name: str, labels: dict, image: str, state: str, d: _StateDetail, ip: str) -> ObservedContainer:
    try:
        attempt = int(labels.get(L.ATTEMPT, "0"))
    except ValueError:
        attempt = 0
    return ObservedContainer(
        id=cid, name=name, pod_uid=labels.get(L.POD_UID, ""), pod_name=labels.get(L.POD_NAME, ""),
        namespace=labels.get(L.POD_NAMESPACE, ""), container=labels.get(L.CONTAINER_NAME, ""),
        attempt=attempt, spec_hash=labels.get(L.SPEC_HASH, ""), node=labels.get(L.NODE, ""), image=image,
        state=state, exit_code=d.exit_code, oom_killed=d.oom_killed, error=d.error,
        started_at=d.started_at, finished_at=d.finished_at, ip=ip, sandbox_id=labels.get(L.SANDBOX_ID, ""),
    )
