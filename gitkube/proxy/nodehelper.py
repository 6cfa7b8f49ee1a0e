"""Run on a node (by its own python3, standard library only): keeps gitkube's DNS answerer there
in place. The agent runs `python3 -c BOOT` with a JSON request on stdin holding this file's source,
the server's source and the data; nothing from the request ever reaches a shell.

Request: {"action": "ensure"|"forget"|"stop-all", "root": "/run/gitkube/dns", "listen": ip, "port": 53,
          "tag": cluster tag, "server": source, "version": v, "records": text, "upstream": "auto"|"none"|"ip,ip"}

One answerer per listen address (<root>/<listen>/), shared by every gitkube state driving the host;
each state keeps its own records-<tag>.json there. "forget" removes one state's records (the
answerer exits when none is left); "stop-all" stops every answerer and removes the files.
Reply (stdout, one JSON line): {"ok": bool, "started": bool, "pid": int, "error": str}
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# The argv the agent runs: a constant program that executes the helper sent on stdin.
BOOT = "import json,sys; request=json.load(sys.stdin); exec(request['helper'])"


def _write(path: str, text: str) -> bool:
    """Replace the file atomically when its content differs; True when written."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"  # the agent's threads may run this too
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def _running(pidfile: str, server: str) -> tuple[int, str]:
    """(pid, version) of the answerer recorded in `pidfile` if that process is alive and is it."""
    try:
        with open(pidfile) as f:
            pid_text, version = (f.read().split() + ["", ""])[:2]
        pid = int(pid_text)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except (OSError, ValueError):
        return 0, ""
    return (pid, version) if server.encode() in cmdline else (0, "")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    for _ in range(30):
        if not os.path.exists(f"/proc/{pid}"):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _health(listen: str, port: int, tag: str, domain: str) -> str:
    """The TXT answer of the health name, or "" when nothing answers."""
    name = f"_gitkube-health.{tag.lower()}.{domain}"
    query = struct.pack("!HHHHHH", 0x4b4b, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\0" + struct.pack("!HH", 16, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(0.3)
        s.sendto(query, (listen, port))
        data, _ = s.recvfrom(4096)
    except OSError:
        return ""
    finally:
        s.close()
    if len(data) < len(query) + 12 or struct.unpack("!H", data[6:8])[0] < 1:
        return ""
    rdata = data[len(query) + 12:]
    return rdata[1:1 + rdata[0]].decode(errors="replace") if rdata else ""


PRUNE_SECONDS = 3600.0


def _prune(home: str, mine: str) -> None:
    """Other states' records untouched for an hour: their agent is gone (files of a running
    agent are touched at every resync)."""
    for name in os.listdir(home):
        path = os.path.join(home, name)
        if name.startswith("records-") and path != mine:
            try:
                if time.time() - os.path.getmtime(path) > PRUNE_SECONDS:
                    os.unlink(path)
            except OSError:
                pass


def _protocol(version: str) -> int:
    """Versions look like `p<protocol>-<build hash>`."""
    try:
        return int(version.split("-", 1)[0].lstrip("p"))
    except ValueError:
        return 0


def ensure(req: dict) -> dict:
    root, listen, port = req["root"], req["listen"], int(req.get("port", 53))
    home = os.path.join(root, listen)
    os.makedirs(home, mode=0o755, exist_ok=True)
    server = os.path.join(home, "gkdns.py")
    records = os.path.join(home, f"records-{req['tag']}.json")
    pidfile = os.path.join(home, "pid")
    logfile = os.path.join(home, "log")
    _write(server, req["server"])
    if not _write(records, req["records"]):
        os.utime(records)  # still in use: see Zones.STALE_SECONDS
    _prune(home, records)
    digest = hashlib.sha256(req["records"].encode()).hexdigest()[:16]
    domain = json.loads(req["records"]).get("domain", "cluster.local")
    pid, version = _running(pidfile, server)
    answer = _health(listen, port, req["tag"], domain)
    if answer.startswith("ok ") and not version:
        version = answer.split()[1]  # answering, but its pid file is gone
    if _protocol(version) < _protocol(req["version"]) and (pid or answer):
        if pid:
            _stop(pid)  # older protocol: replace it (same protocol: any build will do, so states never fight)
        pid, answer = 0, ""
    started = False
    if not pid and not answer.startswith("ok "):
        with open(logfile, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, server, "--listen", listen, "--port", str(port), "--records-dir", home,
                 "--pidfile", pidfile, "--upstream", req.get("upstream", "auto"), "--version", req["version"]],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/",
                start_new_session=True, close_fds=True)
        pid, started = proc.pid, True
    deadline = time.monotonic() + 3.0
    while True:
        if answer.startswith("ok ") and answer.endswith(" " + digest):
            return {"ok": True, "started": started, "pid": pid, "error": ""}
        if (started and proc.poll() is not None) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
        answer = _health(listen, port, req["tag"], domain)
    tail = ""
    try:
        with open(logfile, "rb") as f:
            f.seek(max(0, os.path.getsize(logfile) - 400))
            tail = f.read().decode(errors="replace").strip().splitlines()[-1:]
            tail = tail[0] if tail else ""
    except OSError:
        pass
    return {"ok": False, "started": started, "pid": pid,
            "error": f"DNS answerer on {listen}:{port} not answering (got {answer!r}); {tail}"}


def _local_address(ip: str) -> bool:
    """Whether `ip` belongs to this network namespace (only then is its answerer ours to stop)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def stop(home: str) -> None:
    pid, _ = _running(os.path.join(home, "pid"), os.path.join(home, "gkdns.py"))
    if pid:
        _stop(pid)
    shutil.rmtree(home, ignore_errors=True)


def handle(req: dict) -> dict:
    action = req.get("action")
    if action == "ensure":
        return ensure(req)
    if action == "forget":
        try:
            os.unlink(os.path.join(req["root"], req["listen"], f"records-{req['tag']}.json"))
        except OSError:
            pass
        return {"ok": True, "started": False, "pid": 0, "error": ""}
    if action == "stop-all":
        root = req["root"]
        for name in (os.listdir(root) if os.path.isdir(root) else []):
            if _local_address(name):  # /run may be shared with other network namespaces
                stop(os.path.join(root, name))
        return {"ok": True, "started": False, "pid": 0, "error": ""}
    return {"ok": False, "started": False, "pid": 0, "error": f"unknown action {action!r}"}


if "request" in globals():  # executed by BOOT on the node
    try:
        reply = handle(request)  # type: ignore[name-defined]  # noqa: F821
    except Exception as exc:  # report, never a traceback on the agent's side
        reply = {"ok": False, "started": False, "pid": 0, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(reply) + "\n")
