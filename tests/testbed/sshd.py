"""A private sshd for tests, and the client-side files to reach it without prompts.

Layout of an ssh dir (``SshFiles``), e.g. ``.testbed/ssh``::

    ssh_host_ed25519_key[.pub]   host key (shared by the local sshd and the netns hosts' sshd's)
    id_ed25519[.pub]             client key; its .pub is the only line of authorized_keys
    authorized_keys
    known_hosts                  "[127.0.0.1]:PORT ssh-ed25519 ..." + "10.123.0.11 ssh-ed25519 ..." ...
    config                       client config for `ssh -F config` (one stanza per host)
    home/.ssh/{config,known_hosts}  symlinks: a fake HOME for docker-py's paramiko transport, which reads
                                 only $HOME/.ssh/config (hostname/port/user/identityfile) and
                                 $HOME/.ssh/known_hosts, and always rejects unknown host keys
    bin/ssh                      `exec ssh -F config "$@"`; put first in PATH for docker-py use_ssh_client=True
    sshd-NAME.{conf,pid,log}     per sshd instance (the netns hosts keep theirs in their own dirs)

Nothing under ~/.ssh is read or written.

Command line (used by scripts/test)::

    python3 -m testbed.sshd start --dir DIR [--port N] [--env-file FILE]   # prints `export ...` lines
    python3 -m testbed.sshd stop  --dir DIR
"""
from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python3 tests/testbed/sshd.py ...`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "testbed"

from . import procs  # noqa: E402

SSHD_OPTIONS = """\
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the key files live below a dir whose parents may be group/world-writable (/tmp)
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
# docker-py's paramiko transport opens one channel per pooled HTTP connection on one TCP
# connection (default MaxSessions 10 -> "ChannelException(2, 'Connect failed')" with threads),
# and many parallel `ssh` processes hit the default MaxStartups 10:30:100.
MaxSessions 64
MaxStartups 64:30:128
# sessions whose client vanished (e.g. after a packet-drop test) die within ~15 s instead of
# lingering as orphaned `sshd: root@notty` processes
ClientAliveInterval 5
ClientAliveCountMax 3
# direct-streamlocal (docker socket) and direct-tcpip (probes to pod IPs) channels
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
"""


def _run(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_banner(host: str, port: int, timeout: float = 10.0, alive=None) -> bool:
    """True once something on host:port greets with 'SSH-'."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                s.settimeout(2.0)
                if s.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        if alive is not None and not alive():
            return False
        time.sleep(0.05)
    return False


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


@dataclass
class SshFiles:
    """Keys and client files of one ssh dir (see module doc)."""

    root: Path

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @classmethod
    def ensure(cls, root: Path | str) -> "SshFiles":
        """Create the dir, keys and client files if missing (idempotent)."""
        f = cls(Path(root).resolve())
        f.root.mkdir(parents=True, exist_ok=True)
        os.chmod(f.root, 0o700)
        for key, comment in ((f.host_key, "gitkube-testbed-host"), (f.client_key, "gitkube-testbed-client")):
            if not key.exists() or not key.with_suffix(".pub").exists():
                for p in (key, key.with_suffix(".pub")):
                    p.unlink(missing_ok=True)
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        f.authorized_keys.write_text(f.client_key.with_suffix(".pub").read_text())
        for p in (f.known_hosts, f.config):
            if not p.exists():
                p.write_text("")
                os.chmod(p, 0o600)
        dot = f.home / ".ssh"
        dot.mkdir(parents=True, exist_ok=True)
        os.chmod(dot, 0o700)
        for name, target in (("config", f.config), ("known_hosts", f.known_hosts)):
            link = dot / name
            if not link.is_symlink():
                link.unlink(missing_ok=True)
                link.symlink_to(target)
        f.bin_dir.mkdir(exist_ok=True)
        wrapper = f.bin_dir / "ssh"
        ssh = shutil.which("ssh", path="/usr/bin:/bin:/usr/local/bin") or "/usr/bin/ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {ssh} -F {shlex.quote(str(f.config))} "$@"\n')
        os.chmod(wrapper, 0o755)
        return f

    def host_pubkey(self) -> str:
        """'ssh-ed25519 AAAA...' of the host key."""
        return " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])

    def trust(self, host: str, port: int = 22) -> None:
        """Add the host key for host:port to known_hosts (idempotent)."""
        line = f"{known_hosts_name(host, port)} {self.host_pubkey()}"
        lines = [ln for ln in self.known_hosts.read_text().splitlines() if ln.strip()]
        name = known_hosts_name(host, port)
        lines = [ln for ln in lines if ln.split()[0] != name] + [line]
        _atomic_write(self.known_hosts, "\n".join(lines) + "\n")

    def add_host_stanza(self, host: str, port: int = 22, user: str = "root") -> None:
        """Add (or replace) the `Host <host>` stanza of the client config."""
        stanza = (
            f"Host {host}\n"
            f"  HostName {host}\n"
            f"  User {user}\n"
            f"  Port {port}\n"
            f"  IdentityFile {self.client_key}\n"
            f"  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            f"  StrictHostKeyChecking yes\n"
            f"  BatchMode yes\n"
            f"  ConnectTimeout 5\n"
            f"  ServerAliveInterval 5\n"
            f"  ServerAliveCountMax 3\n"
            f"  LogLevel ERROR\n"
        )
        blocks = _split_stanzas(self.config.read_text())
        blocks[host] = stanza
        _atomic_write(self.config, "".join(blocks.values()))


def _split_stanzas(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    cur = None
    for line in text.splitlines(keepends=True):
        if line.startswith("Host "):
            cur = line.split(None, 1)[1].strip()
            blocks[cur] = ""
        if cur is not None:
            blocks[cur] += line
    return blocks


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass
class SshEndpoint:
    """An sshd the tests can log in to as `user` with `key`; `docker_host_url` reaches the Docker
    engine of that host through it (docker-py: set HOME=`home`, see `docker_client()`)."""

    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    config: Path
    home: Path
    bin_dir: Path
    pid: int | None = None
    name: str = "local"
    extra: dict = field(default_factory=dict)

    @property
    def docker_host_url(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}" if self.port != 22 else f"ssh://{self.user}@{self.host}"

    @property
    def ssh_dir(self) -> Path:
        return self.key.parent

    def ssh_argv(self, *command: str) -> list[str]:
        """argv for running `command` on the host with the OpenSSH client."""
        return ["ssh", "-F", str(self.config), "-p", str(self.port), "-l", self.user, self.host, *command]

    def env(self) -> dict[str, str]:
        return {
            "GITKUBE_TEST_SSH_HOST": self.host,
            "GITKUBE_TEST_SSH_PORT": str(self.port),
            "GITKUBE_TEST_SSH_USER": self.user,
            "GITKUBE_TEST_SSH_KEY": str(self.key),
            "GITKUBE_TEST_SSH_KNOWN_HOSTS": str(self.known_hosts),
            "GITKUBE_TEST_SSH_CONFIG": str(self.config),
            "GITKUBE_TEST_SSH_HOME": str(self.home),
            "GITKUBE_TEST_SSH_BIN": str(self.bin_dir),
            "GITKUBE_TEST_SSH_DIR": str(self.ssh_dir),
            "GITKUBE_TEST_SSH_DOCKER_HOST": self.docker_host_url,
            "GITKUBE_TEST_SSH_PID": str(self.pid or ""),
        }

    @classmethod
    def from_env(cls, environ=os.environ) -> "SshEndpoint | None":
        try:
            port = int(environ["GITKUBE_TEST_SSH_PORT"])
            key = Path(environ["GITKUBE_TEST_SSH_KEY"])
        except (KeyError, ValueError):
            return None
        pid = environ.get("GITKUBE_TEST_SSH_PID") or ""
        d = key.parent
        return cls(
            host=environ.get("GITKUBE_TEST_SSH_HOST", "127.0.0.1"),
            port=port,
            user=environ.get("GITKUBE_TEST_SSH_USER", "root"),
            key=key,
            known_hosts=Path(environ.get("GITKUBE_TEST_SSH_KNOWN_HOSTS", d / "known_hosts")),
            config=Path(environ.get("GITKUBE_TEST_SSH_CONFIG", d / "config")),
            home=Path(environ.get("GITKUBE_TEST_SSH_HOME", d / "home")),
            bin_dir=Path(environ.get("GITKUBE_TEST_SSH_BIN", d / "bin")),
            pid=int(pid) if pid.isdigit() else None,
        )

    def docker_client(self, **kwargs):
        """docker.DockerClient over ssh (paramiko transport) to this host's engine.

        docker-py reads $HOME/.ssh/{config,known_hosts} when the client is created (connect time),
        so HOME is switched to `home` only for the duration of the constructor."""
        import docker  # the SDK is a project dependency; imported lazily so the CLI needs only stdlib

        kwargs.setdefault("use_ssh_client", False)
        kwargs.setdefault("timeout", 30)
        old = os.environ.get("HOME")
        os.environ["HOME"] = str(self.home)
        try:
            return docker.DockerClient(base_url=self.docker_host_url, **kwargs)
        finally:
            if old is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = old

    def alive(self) -> bool:
        return wait_banner(self.host, self.port, timeout=2.0)


def _root_bashrc() -> Path | None:
    p = Path(pwd.getpwuid(0).pw_dir) / ".bashrc"
    return p if p.exists() else None


def start_sshd(
    files: SshFiles,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    name: str = "local",
    state_dir: Path | None = None,
    netns: str | None = None,
    extra_config: str = "",
    clean_bashrc: bool | None = None,
    timeout: float = 10.0,
) -> SshEndpoint:
    """Start `sshd -D` on host:port (a free port when None) and wait for its banner.

    netns: run it inside that network namespace (`ip netns exec`).
    clean_bashrc: hide root's ~/.bashrc from the sshd's sessions (a bind mount inside the sshd's
    own mount namespace; the real file is untouched). On this VM it runs `pyenv init`, which adds
    ~100 ms to every remote command -- including docker-py's `docker system dial-stdio` per channel.
    Default: on, unless GITKUBE_TESTBED_KEEP_BASHRC=1.
    """
    sshd = shutil.which("sshd", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        raise RuntimeError("sshd not found (apt-get install openssh-server)")
    if os.geteuid() != 0:
        raise RuntimeError("the test sshd logs in as root and must be started as root")
    if clean_bashrc is None:
        clean_bashrc = os.environ.get("GITKUBE_TESTBED_KEEP_BASHRC", "") not in ("1", "true")
    state_dir = Path(state_dir or files.root)
    state_dir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege-separation dir
    os.chmod("/run/sshd", 0o755)
    conf = state_dir / f"sshd-{name}.conf"
    pidfile = state_dir / f"sshd-{name}.pid"
    log = state_dir / f"sshd-{name}.log"
    stop_sshd(pidfile)  # a leftover of ours from an earlier run (idempotent restart)

    bashrc = _root_bashrc() if clean_bashrc else None
    empty = state_dir / "empty-bashrc"
    if bashrc:
        empty.write_text("")

    last_err = ""
    for attempt in range(5):
        p = port or free_port(host if netns is None else "127.0.0.1")
        conf.write_text(
            f"ListenAddress {host}\nPort {p}\nHostKey {files.host_key}\nPidFile {pidfile}\n"
            f"AuthorizedKeysFile {files.authorized_keys}\n" + SSHD_OPTIONS + extra_config
        )
        _run([sshd, "-t", "-f", str(conf)])
        inner = [sshd, "-D", "-e", "-f", str(conf)]
        if bashrc:
            script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
            inner = ["sh", "-c", script, "sh", str(empty), str(bashrc), *inner]
            if netns is None:  # ip netns exec makes its own mount namespace; here we need one
                inner = ["unshare", "--mount", "--propagation", "private", *inner]
        if netns is not None:
            inner = ["ip", "netns", "exec", netns, *inner]
        with open(log, "ab") as lf:
            proc = subprocess.Popen(inner, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf, start_new_session=True)
        ok = wait_banner(host, p, timeout, alive=lambda: proc.poll() is None)
        if ok and proc.poll() is None:
            # make sure the banner was ours (not another process that owned the port)
            time.sleep(0.05)
            if proc.poll() is None:
                pidfile.write_text(f"{proc.pid}\n")
                if netns is None:
                    files.trust(host, p)
                    files.add_host_stanza(host, p)
                return SshEndpoint(
                    host=host, port=p, user="root", key=files.client_key, known_hosts=files.known_hosts,
                    config=files.config, home=files.home, bin_dir=files.bin_dir, pid=proc.pid, name=name,
                )
        procs.terminate(proc.pid, 2.0)
        last_err = log.read_text(errors="replace")[-600:] if log.exists() else ""
        if port is not None:
            break
    raise RuntimeError(f"sshd {name} did not start on {host}:{port or '?'}; log {log}:\n{last_err}")


def stop_sshd(pidfile: Path | str) -> bool:
    """Stop the sshd whose pid we recorded, and its per-connection children. True if one was running."""
    pid = procs.read_pid(pidfile)
    Path(pidfile).unlink(missing_ok=True)
    if pid is None or not procs.alive(pid):
        return False
    if "sshd" not in procs.cmdline(pid):  # pid reused by something else: not ours
        return False
    procs.terminate_with_children(pid)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m testbed.sshd", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["start", "stop"])
    ap.add_argument("--dir", required=True, help="ssh dir (keys, config, known_hosts, sshd state)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None, help="default: a free port")
    ap.add_argument("--env-file", help="also write the `export GITKUBE_TEST_SSH_...` lines here")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    a = ap.parse_args(argv)
    if a.action == "stop":
        stopped = stop_sshd(Path(a.dir) / "sshd-local.pid")
        print("sshd stopped" if stopped else "no sshd of ours was running", file=sys.stderr)
        return 0
    t0 = time.monotonic()
    files = SshFiles.ensure(a.dir)
    ep = start_sshd(files, host=a.host, port=a.port)
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in ep.env().items())
    if a.env_file:
        Path(a.env_file).write_text(lines)
    sys.stdout.write(lines)
    if not a.quiet:
        print(f"sshd up on {ep.host}:{ep.port} (pid {ep.pid}) in {time.monotonic() - t0:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
