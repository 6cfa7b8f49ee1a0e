"""Reach a pod's containers from the CLI: find its node, connect, and pick the container."""

from __future__ import annotations

from dataclasses import dataclass

from gitkube.errors import NotFound, UsageError
from gitkube.runtime.labels import CONTAINER_NAME, MANAGED_BY, MANAGED_BY_VALUE, POD_UID, SANDBOX, ATTEMPT
from gitkube.store.base import Store


@dataclass
class PodTarget:
    pod: dict
    conn: object  # runtime.connection.NodeConnection
    container_id: str
    container: str


def node_connection(store: Store, node_name: str, ssh_options: object | None = None):
    from gitkube.agent.nodes import node_url
    from gitkube.runtime.connection import connect

    node = store.get("Node", "", node_name)
    if node is None:
        raise NotFound(f'node "{node_name}" not found')
    return connect(node_url(node), ssh_options)


def locate(store: Store, namespace: str, name: str, container: str | None, previous: bool = False,
           ssh_options: object | None = None) -> PodTarget:
    """The (latest, or previous with `previous`) Docker container of `container` in pod `name`."""
    pod = store.get("Pod", namespace, name)
    if pod is None:
        raise NotFound(f'pods "{name}" not found')
    specs = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if container is None:
        if len(specs) > 1:
            import sys

            sys.stderr.write(f'Defaulted container "{specs[0]}" out of: {", ".join(specs)}\n')
        container = specs[0]
    elif container not in specs:
        raise UsageError(f"container {container} is not valid for pod {name}")
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise UsageError(f"pod {name} is not scheduled on a node yet")
    conn = node_connection(store, node, ssh_options)
    rows = conn.api.containers(all=True, filters={"label": [f"{MANAGED_BY}={MANAGED_BY_VALUE}",
                                                            f"{POD_UID}={pod['metadata']['uid']}",
                                                            f"{CONTAINER_NAME}={container}"]})
    rows = [r for r in rows if r["Labels"].get(CONTAINER_NAME) != SANDBOX]
    rows.sort(key=lambda r: int(r["Labels"].get(ATTEMPT, "0")))
    if previous:
        if len(rows) < 2:
            conn.close()
            raise NotFound(f'previous terminated container "{container}" in pod "{name}" not found')
        row = rows[-2]
    elif rows:
        row = rows[-1]
    else:
        conn.close()
        raise NotFound(f'container "{container}" in pod "{name}" is waiting to start')
    return PodTarget(pod, conn, row["Id"], container)
