"""One persistent, bounded, thread-safe connection per node: its Docker engine, TCP as the node
sees it, and commands on the node.

* ``unix:///path/docker.sock`` -- the local engine; commands run as local processes.
* ``ssh://[user@]host[:port][/remote/docker.sock]`` -- one SSH connection (ssh config, verified host
  key); Docker requests ride ``direct-streamlocal`` channels to the remote socket, TCP probes ride
  ``direct-tcpip`` channels, commands ride ``exec`` channels. See `gitkube.runtime.ssh` for why.

Errors: a node that cannot be reached, or whose engine is down, raises `TransientError`; a bad URL,
unknown or changed host key or failed authentication raises `PermanentError`. Both name the URL.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import threading
import time

import docker
import paramiko

from gitkube.errors import PermanentError, TransientError
from gitkube.runtime import channels, dockerhttp
from gitkube.runtime.ssh import SshLink, SshOptions, resolve_target

__all__ = ["NodeConnection", "SshOptions", "connect"]

DEFAULT_LOCAL_URL = "unix:///var/run/docker.sock"
_CHUNK = 32768  # paramiko's sendall copies the rest of its buffer per packet: feed it slices
# exec channels count against sshd's MaxSessions (default 10; Docker's streamlocal channels do not):
# stay below it so that concurrent run() calls queue here instead of failing there
_MAX_SESSIONS = 8


class NodeConnection:
    """A node: `api` talks to its engine over the one connection; `open_tcp` and `run` act on it."""

    url: str
    api: docker.APIClient

    def __init__(self, url: str, api: docker.APIClient, options: SshOptions):
        self.url = url
        self.api = api
        self.options = options
        self.last_error: str | None = None  # why the last ping() failed

    def ping(self) -> bool:
        """True if the engine answers /_ping within the connect timeout; else False, and `last_error`
        says why. A reconnect that finds a changed host key still raises PermanentError."""
        timeout = min(self.options.connect_timeout, self.options.read_timeout)
        try:
            response = self.api.get(f"{self.api.base_url}/_ping", timeout=timeout)  # APIClient.ping has no timeout
        except TransientError as e:
            self.last_error = str(e)
            return False
        if response.status_code != 200:
            self.last_error = f"{self.url}: /_ping answered HTTP {response.status_code}: {response.text[:200]}"
            return False
        self.last_error = None
        return True

    def translate_errors(self) -> contextlib.AbstractContextManager[None]:
        """Map transport failures inside the block to gitkube errors -- for reading streams
        (`api.logs(stream=True)`, `api.events()`); plain `api` calls are mapped already."""
        return dockerhttp.mapped_errors(self.url)

    def open_tcp(self, host: str, port: int, timeout: float):
        """A TCP connection to host:port *from the node* (pod IPs on its bridge). The target refusing
        or not answering raises OSError; the node being unreachable raises TransientError."""
        raise NotImplementedError

    def run(self, argv: list[str], input: bytes | None = None, timeout: float = 30) -> tuple[int, bytes, bytes]:
        """Run argv on the node (never through a caller-built shell string): (returncode, stdout, stderr).
        A missing command gives 127, like a shell. Not finishing within `timeout` raises TransientError."""
        raise NotImplementedError

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> NodeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class LocalConnection(NodeConnection):
    """The engine on this machine's unix socket; commands are local processes."""

    def open_tcp(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def run(self, argv: list[str], input: bytes | None = None, timeout: float = 30) -> tuple[int, bytes, bytes]:
        _check_argv(argv)
        stdin = subprocess.DEVNULL if input is None else None
        try:
            p = subprocess.run(argv, input=input, stdin=stdin, capture_output=True, timeout=timeout)
        except FileNotFoundError:
            return 127, b"", f"{argv[0]}: command not found\n".encode()
        except subprocess.TimeoutExpired as e:
            raise TransientError(f"{self.url}: {shlex.join(argv)} did not finish within {timeout:g} s") from e
        return p.returncode, p.stdout, p.stderr


class SshConnection(NodeConnection):
    """A remote node over one SSH connection (reopened on demand if it dies)."""

    def __init__(self, url: str, api: docker.APIClient, options: SshOptions, link: SshLink):
        super().__init__(url, api, options)
        self.link = link
        self._sessions = threading.BoundedSemaphore(_MAX_SESSIONS)

    def open_tcp(self, host: str, port: int, timeout: float) -> paramiko.Channel:
        chan = channels.open_direct_tcpip(self.link.transport(), host, port, timeout)
        chan.settimeout(timeout)
        return chan

    def run(self, argv: list[str], input: bytes | None = None, timeout: float = 30) -> tuple[int, bytes, bytes]:
        _check_argv(argv)
        command = shlex.join(argv)
        deadline = time.monotonic() + timeout
        if not self._sessions.acquire(timeout=timeout):
            raise TransientError(f"{self.url}: {command} did not start within {timeout:g} s (all sessions busy)")
        try:
            return self._run(command, input, deadline, timeout)
        finally:
            self._sessions.release()

    def _run(self, command: str, input: bytes | None, deadline: float, timeout: float) -> tuple[int, bytes, bytes]:
        transport = self.link.transport()
        try:
            chan = channels.open_session(transport, min(timeout, self.options.connect_timeout))
        except OSError as e:
            raise TransientError(f"{self.url}: cannot start {command}: {e}") from e
        try:
            return _exec(chan, command, input, deadline)
        except TimeoutError as e:
            raise TransientError(f"{self.url}: {command} did not finish within {timeout:g} s") from e
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise TransientError(f"{self.url}: {command}: ssh channel failed: {e or type(e).__name__}") from e
        finally:
            chan.close()

    def close(self) -> None:
        super().close()
        self.link.close()


def _exec(chan: paramiko.Channel, command: str, input: bytes | None, deadline: float) -> tuple[int, bytes, bytes]:
    """exec on an open session; stdin is fed and stderr drained on helper threads so that neither
    side can fill the shared SSH window and stall the other."""
    chan.settimeout(_remaining(deadline))
    chan.exec_command(command)
    err: list[bytes] = []
    helpers = [threading.Thread(target=_drain_stderr, args=(chan, err), daemon=True)]
    if input:
        helpers.append(threading.Thread(target=_feed_stdin, args=(chan, input), daemon=True))
    else:
        chan.shutdown_write()  # EOF on stdin at once, as subprocess.DEVNULL gives locally
    for t in helpers:
        t.start()
    out = bytearray()
    while data := chan.recv(65536):
        out += data
        chan.settimeout(_remaining(deadline))
    for t in helpers:
        t.join(_remaining(deadline))
    if any(t.is_alive() for t in helpers) or not chan.status_event.wait(_remaining(deadline)):
        raise TimeoutError("command did not finish")
    return chan.exit_status, bytes(out), b"".join(err)


def _drain_stderr(chan: paramiko.Channel, sink: list[bytes]) -> None:
    with contextlib.suppress(OSError):  # a timeout here is reported by the caller's deadline
        while data := chan.recv_stderr(65536):
            sink.append(data)


def _feed_stdin(chan: paramiko.Channel, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the command may exit without reading its input
        for i in range(0, len(data), _CHUNK):
            chan.sendall(data[i : i + _CHUNK])
        chan.shutdown_write()


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _check_argv(argv: list[str]) -> None:
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"run() needs a non-empty list of strings, got {argv!r}")


def connect(url: str | None = None, options: SshOptions | None = None) -> NodeConnection:
    """Open the connection to a node and negotiate its Docker API version.
    No URL means $DOCKER_HOST, else the local default socket."""
    url = url or os.environ.get("DOCKER_HOST") or DEFAULT_LOCAL_URL
    options = options or SshOptions()
    if url.startswith("unix://"):
        return _connect_local(url, options)
    if url.startswith("ssh://"):
        return _connect_ssh(url, options)
    raise PermanentError(f"{url}: unsupported node URL; use unix:///path/docker.sock or ssh://[user@]host[:port]")


def _connect_local(url: str, options: SshOptions) -> NodeConnection:
    path = url[len("unix://"):]
    if not path.startswith("/"):
        raise PermanentError(f"{url}: a unix socket URL needs an absolute path (unix:///path/docker.sock)")

    def opener() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(options.connect_timeout)
        try:
            sock.connect(path)
        except OSError as e:
            sock.close()
            raise type(e)(e.errno, f"cannot connect to {path}: {e.strerror or e}") from None
        return sock

    adapter = dockerhttp.NodeAdapter(url, opener)
    api = dockerhttp.api_client(adapter, options.read_timeout)
    return LocalConnection(url, api, options)


def _connect_ssh(url: str, options: SshOptions) -> NodeConnection:
    target = resolve_target(url, options)
    link = SshLink(target, options)

    def opener() -> paramiko.Channel:
        return channels.open_streamlocal(link.transport(), target.socket_path, options.connect_timeout)

    try:
        adapter = dockerhttp.NodeAdapter(url, opener)
        api = dockerhttp.api_client(adapter, options.read_timeout)
    except BaseException:
        link.close()
        raise
    return SshConnection(url, api, options, link)
