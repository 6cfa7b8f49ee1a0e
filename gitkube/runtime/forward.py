"""`port-forward`: a local listener whose connections are tunnelled to a pod IP from its node
(a direct-tcpip channel over the node's SSH connection, or a plain socket locally)."""

from __future__ import annotations

import socket
import sys
import threading

from gitkube.errors import NotFound, UsageError
from gitkube.store.base import Store

KINDS = {"pod": "Pod", "pods": "Pod", "po": "Pod", "svc": "Service", "service": "Service", "services": "Service",
         "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment", "rs": "ReplicaSet",
         "replicaset": "ReplicaSet", "rc": "ReplicationController", "replicationcontroller": "ReplicationController"}


def resolve_target(store: Store, namespace: str, target: str, ports: list[str]) -> tuple[dict, list[tuple[int, int]]]:
    """The pod to forward to and (local, pod) port pairs; a Service's ports map to its targetPorts."""
    kind, _, name = target.partition("/") if "/" in target else ("pod", "", target)
    kind_name = KINDS.get(kind.lower())
    if kind_name is None:
        raise UsageError(f"cannot port-forward to {kind!r}; use pod/, svc/, deploy/, rs/ or rc/")
    obj = store.get(kind_name, namespace, name)
    if obj is None:
        raise NotFound(f'{kind_name.lower()}s "{name}" not found')
    pod = obj if kind_name == "Pod" else _ready_pod(store, namespace, obj)
    pairs = []
    for spec in ports:
        local, _, remote = spec.partition(":")
        try:
            local_port = int(local) if local else 0
            remote_port = _remote_port(obj, pod, remote or local)
        except ValueError:
            raise UsageError(f"invalid port mapping {spec!r}; use LOCAL:REMOTE") from None
        pairs.append((local_port or remote_port, remote_port))
    return pod, pairs


def _ready_pod(store: Store, namespace: str, obj: dict) -> dict:
    from gitkube.controllers.base import is_ready
    from gitkube.labels.selector import from_label_selector, from_map

    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    selector = from_map(sel) if obj["kind"] in ("Service", "ReplicationController") else from_label_selector(sel)
    pods = [p for p in store.list("Pod", namespace, selector) if is_ready(p)]
    if not pods:
        raise NotFound(f"no ready pod for {obj['kind'].lower()}/{obj['metadata']['name']}")
    return pods[0]


def _remote_port(obj: dict, pod: dict, text: str) -> int:
    if obj["kind"] != "Service":
        return _pod_port(pod, text)
    for p in (obj.get("spec") or {}).get("ports") or []:
        if str(p.get("port")) == text or p.get("name") == text:
            target = p.get("targetPort", p.get("port"))
            return _pod_port(pod, str(target))
    raise ValueError(text)


def _pod_port(pod: dict, text: str) -> int:
    if text.isdigit():
        return int(text)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == text:
                return int(p["containerPort"])
    raise ValueError(text)


def forward(store: Store, pod: dict, pairs: list[tuple[int, int]], address: str, ssh_options: object | None) -> None:
    from gitkube.runtime.access import node_connection

    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise UsageError(f"pod {pod['metadata']['name']} has no IP yet")
    conn = node_connection(store, pod["spec"]["nodeName"], ssh_options)
    listeners = []
    for local, remote in pairs:
        srv = socket.create_server((address, local))
        listeners.append(srv)
        print(f"Forwarding from {address}:{srv.getsockname()[1]} -> {remote}", flush=True)
        threading.Thread(target=_accept, args=(srv, conn, ip, remote), daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for srv in listeners:
            srv.close()
        conn.close()


def _accept(srv: socket.socket, conn, ip: str, port: int) -> None:
    while True:
        try:
            client, _ = srv.accept()
        except OSError:
            return
        try:
            upstream = conn.open_tcp(ip, port, 5.0)
        except Exception as exc:
            sys.stderr.write(f"error forwarding to {ip}:{port}: {exc}\n")
            client.close()
            continue
        print(f"Handling connection for {port}", flush=True)
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()


def _pipe(src, dst) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass
