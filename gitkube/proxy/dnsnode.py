"""The agent's side of the per-node DNS answerer: one command per change (or resync) that installs
the server and the records on the node, starts the server when it is not running (or runs an old
version) and checks that it answers with the records just written. See `nodehelper` for the node's
side and `dnsserver` for the server itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from gitkube.errors import TransientError
from gitkube.proxy import nodehelper
from gitkube.proxy.iptables import Runner

ROOT = "/run/gitkube/dns"
PORT = 53
UPSTREAM_ENV = "GITKUBE_DNS_UPSTREAM"  # auto (the node's resolv.conf) | none | ip,ip


# Bump when the answerer's command line, records format or answers change in a way older agents'
# answerers must not keep serving: a node's running answerer is replaced only by a higher protocol.
PROTOCOL = 1


@lru_cache(maxsize=1)
def sources() -> tuple[str, str, str]:
    """(helper source, server source, version `p<PROTOCOL>-<hash of both>`)."""
    here = Path(__file__).parent
    helper = (here / "nodehelper.py").read_text()
    server = (here / "dnsserver.py").read_text()
    version = f"p{PROTOCOL}-" + hashlib.sha256((helper + server).encode()).hexdigest()[:12]
    return helper, server, version


def upstream_setting() -> str:
    return os.environ.get(UPSTREAM_ENV) or "auto"


def _call(node: Runner, python: str, request: dict, timeout: float) -> dict:
    from gitkube.runtime.connection import LocalConnection

    if isinstance(node, LocalConnection):  # this machine: the helper runs here, no interpreter to start
        try:
            return nodehelper.handle(request)
        except Exception as exc:  # as the node-side boot reports it
            return {"ok": False, "started": False, "pid": 0, "error": f"{type(exc).__name__}: {exc}"}
    helper, _, _ = sources()
    rc, out, err = node.run([python, "-c", nodehelper.BOOT], input=json.dumps({**request, "helper": helper}).encode(),
                            timeout=timeout)
    if rc == 127:
        raise TransientError(f"{python} not found on the node: cluster DNS needs python3 there")
    try:
        reply = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise TransientError(f"DNS helper failed ({rc}): {err.decode(errors='replace').strip()[-300:]}") from None
    return reply


def ensure(node: Runner, python: str, listen: str, tag: str, records_text: str, upstream: str | None = None,
           port: int = PORT, timeout: float = 20) -> dict:
    """Install/refresh the answerer and this cluster's records on the node; raises TransientError
    unless the answerer serves exactly these records."""
    _, server, version = sources()
    reply = _call(node, python, {"action": "ensure", "root": ROOT, "listen": listen, "port": port, "tag": tag,
                                 "server": server,
                                 "version": version, "records": records_text,
                                 "upstream": upstream or upstream_setting()}, timeout)
    if not reply.get("ok"):
        raise TransientError(reply.get("error") or "DNS answerer did not start")
    return reply


def forget(node: Runner, python: str, listen: str, tag: str, timeout: float = 20) -> None:
    """Remove this cluster's records from the node's answerer (which exits if no other is left)."""
    _call(node, python, {"action": "forget", "root": ROOT, "listen": listen, "tag": tag}, timeout)


def stop_all(node: Runner, python: str, timeout: float = 20) -> None:
    """Stop every gitkube DNS answerer on the node and remove its files."""
    _call(node, python, {"action": "stop-all", "root": ROOT}, timeout)
