"""A few Docker Engine API calls over a unix socket with the standard library only.

Used by the test bed's bring-up/teardown paths (which must work even when the docker SDK is not
installed, e.g. from a shell trap) and for cheap readiness polling. Tests use the docker SDK.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except BaseException:
            s.close()
            raise
        self.sock = s


def sock_path(url_or_path: str) -> str:
    """'unix:///x/docker.sock' or '/x/docker.sock' -> '/x/docker.sock'."""
    if url_or_path.startswith("unix://"):
        return url_or_path[len("unix://"):]
    if "://" in url_or_path:
        raise ValueError(f"not a unix socket URL: {url_or_path}")
    return url_or_path


def request(sock: str, method: str, path: str, body=None, timeout: float = 30.0):
    """One API call; returns (status, parsed JSON or text)."""
    conn = _UnixHTTPConnection(sock_path(sock), timeout)
    try:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("Content-Type", "")
        if "json" in ctype and raw:
            return resp.status, json.loads(raw)
        return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()


def ping(sock: str, timeout: float = 2.0) -> bool:
    try:
        status, body = request(sock, "GET", "/_ping", timeout=timeout)
        return status == 200 and body == "OK"
    except (OSError, http.client.HTTPException, ValueError):
        return False


def wait_ping(sock: str, timeout: float = 60.0, alive=None) -> bool:
    """Poll /_ping until it answers; `alive()` (optional) returning False aborts early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(sock):
            return True
        if alive is not None and not alive():
            return False
        time.sleep(0.05)
    return False


def containers(sock: str, all: bool = True, filters: dict | None = None) -> list[dict]:
    q = {"all": "1" if all else "0"}
    if filters:
        q["filters"] = json.dumps(filters)
    status, body = request(sock, "GET", "/containers/json?" + urllib.parse.urlencode(q))
    if status != 200:
        raise RuntimeError(f"list containers: HTTP {status}: {body}")
    return body


def remove_container(sock: str, cid: str, force: bool = True) -> None:
    q = urllib.parse.urlencode({"force": "1" if force else "0", "v": "1"})
    status, body = request(sock, "DELETE", f"/containers/{cid}?{q}", timeout=60)
    if status not in (204, 404):
        raise RuntimeError(f"remove {cid[:12]}: HTTP {status}: {body}")


def image_exists(sock: str, ref: str) -> bool:
    status, _ = request(sock, "GET", f"/images/{urllib.parse.quote(ref, safe='/:')}/json")
    return status == 200


def main(argv=None) -> int:
    """`python3 -m testbed.dockerapi ping URL` / `wait URL [TIMEOUT] [PID]` -> exit 0 when the engine answers."""
    import os
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] not in ("ping", "wait"):
        print("usage: python3 -m testbed.dockerapi ping|wait unix:///path/docker.sock [TIMEOUT] [PID]",
              file=sys.stderr)
        return 2
    if args[0] == "ping":
        return 0 if ping(args[1]) else 1
    timeout = float(args[2]) if len(args) > 2 else 60.0
    pid = int(args[3]) if len(args) > 3 else None

    def alive() -> bool:
        if pid is None:
            return True
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    return 0 if wait_ping(args[1], timeout, alive=alive) else 1


if __name__ == "__main__":
    raise SystemExit(main())
