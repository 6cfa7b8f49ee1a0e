"""Removing gitkube's data plane from a host: one cluster's chains and DNS records, or everything
gitkube put there (every GK-* chain, every route with gitkube's protocol number, every DNS
answerer). The agent never does this by itself on exit: Services keep working without it."""

from __future__ import annotations

import sys

from gitkube.proxy import dnsnode, iptables, routes
from gitkube.proxy.iptables import Runner
from gitkube.proxy.rules import PREFIX, cluster_tag, owner_prefix


def teardown(node: Runner, cluster_id: str | None = None, python: str = "python3", listen: str | None = None,
             all_routes: bool = False) -> None:
    """With `cluster_id`: that cluster's chains and routes, and its records on the answerer at
    `listen`. Without: everything of every cluster (chains, answerers). `all_routes` also deletes
    every gitkube route of every cluster."""
    if cluster_id is not None:
        tag = cluster_tag(cluster_id)
        iptables.remove_all(node, owner_prefix(tag))
        routes.sync(node, {}, routes.route_metric(tag))
        if listen:
            dnsnode.forget(node, python, listen, tag)
    else:
        iptables.remove_all(node, PREFIX)
        dnsnode.stop_all(node, python)
    if all_routes:
        routes.remove_all(node)


class LocalRunner:
    """Commands on this machine (for tests and scripts that hold no NodeConnection)."""

    def run(self, argv: list[str], input: bytes | None = None, timeout: float = 30) -> tuple[int, bytes, bytes]:
        import subprocess

        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def local_python() -> str:
    return sys.executable
