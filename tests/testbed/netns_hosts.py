"""Several "Docker hosts" on this one machine: network namespaces, each with its own dockerd and sshd.

Layout (N = 1, 2, ...)::

    root ns   bridge gk-br0 10.123.0.1/24   (+ `iptables -I DOCKER-USER -i gk-br0 -o gk-br0 -j ACCEPT`)
    gk-hN     netns; veth gk-hN-r (root side, on gk-br0) <-> eth0 10.123.0.(10+N)/24, default via 10.123.0.1
              dockerd: own --data-root/--exec-root/--pidfile, socket <dir>/hosts/gk-hN/docker.sock,
                       docker0 = --bip 172.31.N.1/24 (the host's pod subnet 172.31.N.0/24),
                       --userland-proxy=false (hairpin_mode on for service VIPs), own managed containerd
              sshd:    10.123.0.(10+N):22, root with the test bed's client key,
                       `SetEnv DOCKER_HOST=unix://<sock>` so `docker system dial-stdio` (docker-py's ssh
                       transport) reaches THIS engine; same host key as the local test sshd

The local engine keeps Docker's default 172.17.0.0/16. Nothing routes between pod subnets: a container on
gk-h2 reaches one on gk-h1 through a port published on 10.123.0.11 (or whatever gitkube sets up).

Why the engine is started through `nsenter --net unshare --mount` and not `ip netns exec`: the latter
mounts a fresh sysfs on /sys, which hides /sys/fs/cgroup ("Devices cgroup isn't mounted"). We park the
cgroup tree, mount the netns' sysfs, and put the cgroup tree back, in a private (slave) mount namespace.

Bridged frames between the netns hosts cross the root namespace's FORWARD chain (docker sets policy DROP and
br_netfilter's bridge-nf-call-iptables=1), hence the DOCKER-USER accept rule (FORWARD when no DOCKER-USER).

Only one set of hosts can exist per machine (fixed names): `up` takes an flock on
/run/lock/gitkube-testbed-netns.lock for the life of the NetnsHosts object and first removes leftovers
of earlier runs (netns gk-hN and everything running in them).

Command line::

    python3 -m testbed.netns_hosts up [-n 2]          # brings hosts up, prints them, stays until Ctrl-C
    python3 -m testbed.netns_hosts down               # removes every gk-hN netns, gk-br0 and the rule
    python3 -m testbed.netns_hosts status
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "testbed"

from . import TEST_IMAGE, dockerapi, procs, testbed_dir  # noqa: E402
from .sshd import SshEndpoint, SshFiles, start_sshd, stop_sshd  # noqa: E402

BRIDGE = "gk-br0"
NET = "10.123.0"
BRIDGE_IP = f"{NET}.1"
NS_PREFIX = "gk-h"
LOCK_PATH = "/run/lock/gitkube-testbed-netns.lock"
DOCKERD_ARGS = ["--userland-proxy=false", "--shutdown-timeout", "5", "--log-level", "info"]


def host_ip(n: int) -> str:
    return f"{NET}.{10 + n}"


def pod_cidr(n: int) -> str:
    return f"172.31.{n}.0/24"


def _sh(argv, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _ok(argv) -> bool:
    return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def netns_list() -> list[str]:
    try:
        return sorted(p.name for p in Path("/var/run/netns").iterdir())
    except FileNotFoundError:
        return []


def netns_pids(ns: str) -> list[int]:
    r = _sh(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _arg_value(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


@dataclass
class NetnsHost:
    """One Docker host in netns gk-hN. `ssh` is its sshd endpoint (10.123.0.(10+N):22)."""

    index: int
    workdir: Path
    ssh: SshEndpoint | None = None
    _dockerd: subprocess.Popen | None = field(default=None, repr=False)

    name = property(lambda self: f"{NS_PREFIX}{self.index}")
    netns = property(lambda self: self.name)
    ip = property(lambda self: host_ip(self.index))
    pod_cidr = property(lambda self: pod_cidr(self.index))
    bip = property(lambda self: f"172.31.{self.index}.1/24")
    veth = property(lambda self: f"{self.name}-r")      # root-ns side, on gk-br0
    ifname = "eth0"                                      # netns side
    docker_sock = property(lambda self: self.workdir / "docker.sock")
    docker_host = property(lambda self: f"unix://{self.docker_sock}")
    data_root = property(lambda self: self.workdir / "data")
    exec_root = property(lambda self: self.workdir / "exec")
    pidfile = property(lambda self: self.workdir / "docker.pid")
    log = property(lambda self: self.workdir / "dockerd.log")

    @property
    def ssh_url(self) -> str:
        """docker-py base_url of this host's engine via its sshd (HOME must point at the ssh home)."""
        return f"ssh://root@{self.ip}"

    # -- access -------------------------------------------------------------------------------
    def client(self, **kw):
        """docker.DockerClient on the engine's unix socket (fast, no ssh)."""
        import docker

        kw.setdefault("timeout", 60)
        return docker.DockerClient(base_url=self.docker_host, **kw)

    def ssh_client(self, **kw):
        """docker.DockerClient over this host's sshd (paramiko transport)."""
        return self.ssh.docker_client(**kw)

    def run_in_netns(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return _sh(["ip", "netns", "exec", self.netns, *argv], check=check)

    def engine_alive(self) -> bool:
        return dockerapi.ping(str(self.docker_sock))

    def dockerd_pid(self) -> int | None:
        if self._dockerd is not None and self._dockerd.poll() is None:
            return self._dockerd.pid
        pid = procs.read_pid(self.pidfile)
        if pid and procs.alive(pid) and str(self.exec_root) in procs.cmdline(pid):
            return pid
        return None

    # -- engine lifecycle (node-failure tests) ---------------------------------------------------
    def start_engine(self, timeout: float = 60.0) -> float:
        """(Re)start this host's dockerd; returns seconds until it answered. No-op if it answers."""
        if self.engine_alive():
            return 0.0
        self._wait_old_containerd()
        cg = self.workdir / "cg"
        cg.mkdir(parents=True, exist_ok=True)
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.exec_root.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "daemon.json"
        # own config file: ignore /etc/docker/daemon.json; own trust key -> distinct engine ID in `docker info`
        cfg.write_text(json.dumps({"deprecated-key-path": str(self.workdir / "key.json")}))
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        argv = [
            dockerd, "--config-file", str(cfg), "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile), "-H", self.docker_host, "--bip", self.bip,
            "--containerd-namespace", self.name, "--containerd-plugins-namespace", f"{self.name}-plugins",
            *DOCKERD_ARGS,
        ]
        script = (
            'set -e; cg="$1"; shift; '
            'mount --rbind /sys/fs/cgroup "$cg"; mount -t sysfs sysfs /sys; '
            'mount --rbind "$cg" /sys/fs/cgroup; umount -l "$cg"; exec "$@"'
        )
        full = ["nsenter", f"--net=/var/run/netns/{self.netns}", "unshare", "--mount", "--propagation", "slave",
                "sh", "-c", script, "sh", str(cg), *argv]
        t0 = time.monotonic()
        with open(self.log, "ab") as lf:
            lf.write(f"\n--- start {time.strftime('%H:%M:%S')} ---\n".encode())
            lf.flush()
            self._dockerd = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                             start_new_session=True)
        ok = dockerapi.wait_ping(str(self.docker_sock), timeout, alive=lambda: self._dockerd.poll() is None)
        if not ok:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{self.name}: dockerd did not answer within {timeout:.0f} s; {self.log}:\n{tail}")
        return time.monotonic() - t0

    def stop_engine(self, kill: bool = False, timeout: float = 20.0) -> None:
        """Stop this host's dockerd: SIGTERM (containers are stopped, 5 s grace) or, with kill=True, SIGKILL
        (containers and their shims keep running until the engine restarts and kills them)."""
        pid = self.dockerd_pid()
        if pid is None:
            return
        if kill:
            os.kill(pid, signal.SIGKILL)
            procs.wait_gone(pid, 5)
            procs.reap(pid)
        else:
            procs.terminate(pid, timeout)
        if self._dockerd is not None:
            self._dockerd.poll()

    def _wait_old_containerd(self) -> None:
        """After a SIGKILLed dockerd, its managed containerd takes a moment to die; a dockerd started
        meanwhile fails with "containerd is still running" -> "timeout waiting for containerd to start"."""
        pidfile = self.exec_root / "containerd" / "containerd.pid"
        pid = procs.read_pid(pidfile)
        if pid is None:
            return
        if procs.alive(pid) and str(self.exec_root) in procs.cmdline(pid):
            if not procs.wait_gone(pid, 5):
                procs.terminate(pid, 5)
        # dockerd only checks kill(pid, 0), which also succeeds for a zombie: the old containerd was
        # dockerd's child and waits for PID 1 to reap it -- a stale pidfile would make the new dockerd
        # dial the dead containerd's socket until it gives up. The old containerd is gone: drop the file.
        if not procs.alive(pid):
            pidfile.unlink(missing_ok=True)

    # -- network failure -------------------------------------------------------------------------
    _DROP_RULES = (("raw", "PREROUTING", "-i"), ("mangle", "POSTROUTING", "-o"))

    def drop_traffic(self) -> None:
        """Black-hole the host: every packet in or out of its eth0 is dropped (inside its netns; raw
        PREROUTING + mangle POSTROUTING, chains dockerd leaves alone). Connections hang, like a dead host."""
        for table, chain, io in self._DROP_RULES:
            rule = [chain, io, self.ifname, "-j", "DROP"]
            if not _ok(["ip", "netns", "exec", self.netns, "iptables", "-t", table, "-C", *rule]):
                self.run_in_netns("iptables", "-t", table, "-I", *rule)

    def restore_traffic(self) -> None:
        for table, chain, io in self._DROP_RULES:
            rule = [chain, io, self.ifname, "-j", "DROP"]
            while _ok(["ip", "netns", "exec", self.netns, "iptables", "-t", table, "-C", *rule]):
                self.run_in_netns("iptables", "-t", table, "-D", *rule)

    def traffic_dropped(self) -> bool:
        table, chain, io = self._DROP_RULES[0]
        return _ok(["ip", "netns", "exec", self.netns, "iptables", "-t", table, "-C", chain, io, self.ifname,
                    "-j", "DROP"])


class NetnsHosts:
    """A set of NetnsHost's. Use as a context manager or call up()/down()."""

    def __init__(self, count: int = 2, workdir: Path | None = None, ssh_files: SshFiles | None = None):
        if not 1 <= count <= 9:
            raise ValueError("1..9 hosts")
        self.count = count
        self.root = Path(workdir or testbed_dir()) / "hosts"
        self.ssh_files = ssh_files or SshFiles.ensure(Path(workdir or testbed_dir()) / "ssh")
        self.hosts = [NetnsHost(i, self.root / f"{NS_PREFIX}{i}") for i in range(1, count + 1)]
        self._lock_fd: int | None = None
        self.timings: dict[str, float] = {}

    def __getitem__(self, i):
        return self.hosts[i]

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    # -- lock ------------------------------------------------------------------------------------
    def _lock(self, timeout: float = 120.0) -> None:
        if self._lock_fd is not None:
            return
        Path(LOCK_PATH).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise RuntimeError(f"netns hosts are in use by another test run (lock {LOCK_PATH})")
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.root}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- up / down -------------------------------------------------------------------------------
    def up(self, image_source=None, image: str = TEST_IMAGE) -> "NetnsHosts":
        """Create the bridge, the namespaces, engines and sshd's; copy `image` from the docker client
        `image_source` (the local engine) into every engine. Removes leftovers of earlier runs first."""
        missing = [t for t in ("ip", "nsenter", "unshare", "iptables", "dockerd", "sshd")
                   if not shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
        if missing:
            raise RuntimeError(f"missing tools for netns hosts: {', '.join(missing)}")
        if os.geteuid() != 0:
            raise RuntimeError("netns hosts need root")
        t0 = time.monotonic()
        self._lock()
        try:
            _cleanup_leftovers(self.root)
            self.root.mkdir(parents=True, exist_ok=True)
            _bridge_up()
            for h in self.hosts:
                self._host_up(h)
            self.timings["engines_and_sshd"] = time.monotonic() - t0
            if image_source is not None:
                t1 = time.monotonic()
                self.load_image(image_source, image)
                self.timings["image_load"] = time.monotonic() - t1
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def load_image(self, src, image: str = TEST_IMAGE) -> None:
        from .images import copy_image, save_image

        cache = self.root / "image.tar"
        save_image(src, image, cache)
        for h in self.hosts:
            c = h.client()
            try:
                copy_image(src, c, image, cache=cache)
            finally:
                c.close()

    def _host_up(self, h: NetnsHost) -> None:
        if h.workdir.exists():
            shutil.rmtree(h.workdir, ignore_errors=True)
        h.workdir.mkdir(parents=True)
        ns = h.netns
        _sh(["ip", "netns", "add", ns])
        _sh(["ip", "link", "add", h.veth, "type", "veth", "peer", "name", f"{ns}-n"])
        _sh(["ip", "link", "set", h.veth, "master", BRIDGE, "up"])
        _sh(["ip", "link", "set", f"{ns}-n", "netns", ns])
        _sh(["ip", "-n", ns, "link", "set", f"{ns}-n", "name", h.ifname])
        _sh(["ip", "-n", ns, "addr", "add", f"{h.ip}/24", "dev", h.ifname])
        _sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        _sh(["ip", "-n", ns, "link", "set", h.ifname, "up"])
        _sh(["ip", "-n", ns, "route", "add", "default", "via", BRIDGE_IP])
        t = time.monotonic()
        h.start_engine()
        self.timings[f"{h.name}_engine"] = time.monotonic() - t
        t = time.monotonic()
        h.ssh = start_sshd(self.ssh_files, host=h.ip, port=22, name=h.name, state_dir=h.workdir, netns=ns,
                           extra_config=f"SetEnv DOCKER_HOST={h.docker_host}\n")
        self.ssh_files.trust(h.ip, 22)
        self.ssh_files.add_host_stanza(h.ip, 22)
        self.timings[f"{h.name}_sshd"] = time.monotonic() - t

    def down(self) -> None:
        """Remove everything: containers, engines (and shims), sshd's (and sessions), namespaces,
        veths, the bridge and the forward rule. Safe to call repeatedly."""
        t0 = time.monotonic()
        try:
            for h in self.hosts:
                _host_down(h.netns, h.workdir)
            _cleanup_leftovers(self.root)
        finally:
            self._unlock()
        self.timings["down"] = time.monotonic() - t0

    def reset(self) -> None:
        """Between tests: undo packet drops, restart stopped engines. Containers are left alone."""
        for h in self.hosts:
            if h.traffic_dropped():
                h.restore_traffic()
            if not h.engine_alive():
                h.start_engine()

    def describe(self) -> list[dict]:
        return [
            {"name": h.name, "ip": h.ip, "docker_host": h.docker_host, "ssh_url": h.ssh_url,
             "pod_cidr": h.pod_cidr, "engine": h.engine_alive()}
            for h in self.hosts
        ]


def _forward_chain() -> str:
    return "DOCKER-USER" if _ok(["iptables", "-n", "-L", "DOCKER-USER"]) else "FORWARD"


_FWD_RULE = ["-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]


def _bridge_up() -> None:
    if not _ok(["ip", "link", "show", BRIDGE]):
        _sh(["ip", "link", "add", BRIDGE, "type", "bridge"])
        _sh(["ip", "addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE])
    _sh(["ip", "link", "set", BRIDGE, "up"])
    chain = _forward_chain()
    if not _ok(["iptables", "-C", chain, *_FWD_RULE]):
        _sh(["iptables", "-I", chain, *_FWD_RULE])


def _bridge_down() -> None:
    for chain in ("DOCKER-USER", "FORWARD"):
        while _ok(["iptables", "-C", chain, *_FWD_RULE]):
            _sh(["iptables", "-D", chain, *_FWD_RULE], check=False)
    if _ok(["ip", "link", "show", BRIDGE]):
        _sh(["ip", "link", "del", BRIDGE], check=False)


def _host_down(ns: str, workdir: Path | None) -> None:
    """Tear down one netns host, whoever's test run made it (identified by the netns name)."""
    exists = ns in netns_list()
    pids = netns_pids(ns) if exists else []
    socks, exec_roots = set(), set()
    dockerds = []
    for pid in pids:
        argv = procs.cmdline(pid).split()
        if argv and os.path.basename(argv[0]) == "dockerd":
            dockerds.append(pid)
            h = _arg_value(argv, "-H")
            if h and h.startswith("unix://"):
                socks.add(h[len("unix://"):])
            e = _arg_value(argv, "--exec-root")
            if e:
                exec_roots.add(e)
    if workdir is not None:
        socks.add(str(workdir / "docker.sock"))
        exec_roots.add(str(workdir / "exec"))
    # 1. containers first, through the engine if it answers (clean path)
    for s in socks:
        if os.path.exists(s) and dockerapi.ping(s):
            try:
                for c in dockerapi.containers(s):
                    dockerapi.remove_container(s, c["Id"])
            except (OSError, RuntimeError):
                pass
    # 2. the engines
    for pid in dockerds:
        procs.terminate(pid, 15)
    # 3. containers of a dead engine survive under their shims: kill them with runc
    runc = shutil.which("runc") or "/usr/sbin/runc"
    for e in exec_roots:
        for root in Path(e, "runtime-runc").glob("*"):
            r = _sh([runc, "--root", str(root), "list", "-q"], check=False)
            for cid in r.stdout.split():
                _sh([runc, "--root", str(root), "kill", cid, "KILL"], check=False)
                time.sleep(0.1)
                _sh([runc, "--root", str(root), "delete", "-f", cid], check=False)
    # 4. whatever still runs in the netns: containerd, shims, sshd and its sessions
    if exists:
        for _ in range(3):
            rest = netns_pids(ns)
            if not rest:
                break
            for pid in rest:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for pid in rest:
                procs.terminate(pid, 3)
    if workdir is not None:
        stop_sshd(workdir / f"sshd-{ns}.pid")
    # 5. the namespace (its veth end goes with it) and our side of the veth
    if exists:
        _sh(["ip", "netns", "del", ns], check=False)
    if _ok(["ip", "link", "show", f"{ns}-r"]):
        _sh(["ip", "link", "del", f"{ns}-r"], check=False)
    # 6. mounts left in the root mount namespace below the workdir (normally none), then the files
    if workdir is not None:
        try:
            mounts = [ln.split()[1] for ln in Path("/proc/self/mounts").read_text().splitlines()]
        except OSError:
            mounts = []
        for m in sorted((m for m in mounts if m.startswith(str(workdir) + "/")), reverse=True):
            _sh(["umount", "-l", m], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def _cleanup_leftovers(root: Path) -> None:
    """Every gk-hN netns (ours by name), our host dirs, then the bridge and rule if no gk-hN is left."""
    names = {n for n in netns_list() if re.fullmatch(rf"{NS_PREFIX}\d+", n)}
    if root.exists():
        names |= {p.name for p in root.iterdir() if p.is_dir() and re.fullmatch(rf"{NS_PREFIX}\d+", p.name)}
    for ns in sorted(names):
        _host_down(ns, root / ns if (root / ns).exists() else None)
    if not any(re.fullmatch(rf"{NS_PREFIX}\d+", n) for n in netns_list()):
        _bridge_down()
    (root / "image.tar").unlink(missing_ok=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m testbed.netns_hosts", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["up", "down", "status"])
    ap.add_argument("-n", "--count", type=int, default=2)
    ap.add_argument("--dir", default=None, help="test-bed dir (default: GITKUBE_TESTBED_DIR or <repo>/.testbed)")
    ap.add_argument("--wait", type=float, default=30.0,
                    help="down: seconds to wait for a test run that holds the hosts (then leave them alone)")
    ap.add_argument("--docker-host", default=os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"),
                    help="engine holding the test image to copy into the hosts")
    a = ap.parse_args(argv)
    root = Path(a.dir) if a.dir else testbed_dir()
    if a.action == "status":
        print(json.dumps({"netns": [n for n in netns_list() if n.startswith(NS_PREFIX)],
                          "bridge": _ok(["ip", "link", "show", BRIDGE])}, indent=2))
        return 0
    if a.action == "down":
        t0 = time.monotonic()
        nh = NetnsHosts(1, root)
        try:
            nh._lock(timeout=a.wait)
        except RuntimeError as e:
            print(f"{e}: leaving them alone", file=sys.stderr)
            return 0
        try:
            _cleanup_leftovers(nh.root)
        finally:
            nh._unlock()
        print(f"netns hosts down in {time.monotonic() - t0:.2f} s", file=sys.stderr)
        return 0
    import docker

    src = docker.DockerClient(base_url=a.docker_host)
    from .images import ensure_test_image

    ensure_test_image(src)
    nh = NetnsHosts(a.count, root)
    nh.up(image_source=src)
    print(json.dumps({"hosts": nh.describe(), "timings": nh.timings, "ssh_config": str(nh.ssh_files.config)},
                     indent=2))
    print("up; Ctrl-C to tear down", file=sys.stderr)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        nh.down()
        print(f"down in {nh.timings['down']:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
