"""One SSH connection per node: ssh config, verified host keys, bounded waits, reopened when it dies.

Why not docker-py's ``ssh://`` transport: it has no timeouts (a host that drops packets hangs
135 s on connect and 3600 s on a channel open), leaves Nagle on, and pays a remote process per URL
(LAB.md §2–3). Here every wait is bounded by `SshOptions`, TCP_NODELAY is set, and the kernel drops
a connection whose data stays unacknowledged longer than the read timeout (TCP_USER_TIMEOUT), so a
vanished host turns into errors within seconds instead of a silent hang.

Host keys are verified by default; an unknown key is trusted only on explicit opt-in.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paramiko

from gitkube.errors import PermanentError, RuntimeFailure, TransientError

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
PARAMIKO_LOG = "gitkube.ssh.paramiko"  # our transports log here instead of "paramiko.transport"


class _Demote(logging.Filter):
    """paramiko logs every failure of its transport thread at ERROR, with a traceback. We raise each
    of them to the caller as a gitkube error naming the node (a probe of a pod that is still
    starting fails often), so paramiko's own lines are kept for debugging only."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


logging.getLogger(PARAMIKO_LOG).addFilter(_Demote())


@dataclass
class SshOptions:
    accept_new_host_key: bool = False  # explicit opt-in to trust an unknown key (then saved to known_hosts)
    connect_timeout: float = 5.0  # TCP connect, SSH banner, key exchange, auth and each channel open
    read_timeout: float = 10.0  # docker API read timeout
    keepalive: float = 5.0
    config_file: str | None = None  # default ~/.ssh/config; GITKUBE_SSH_CONFIG env overrides
    known_hosts: str | None = None  # default from ssh config UserKnownHostsFile, else ~/.ssh/known_hosts


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in, after the URL and the ssh config were combined."""

    url: str  # as the user wrote it; every message names it
    host: str  # HostName from the ssh config, else the URL's host
    port: int
    user: str
    socket_path: str  # the Docker socket on the node
    identity_files: tuple[str, ...]
    identities_only: bool
    known_hosts: tuple[str, ...]  # the first one receives accepted keys
    accept_new: bool

    @property
    def known_hosts_name(self) -> str:
        """The name OpenSSH files the key under: `host`, or `[host]:port` off port 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def resolve_target(url: str, options: SshOptions) -> SshTarget:
    """Combine `ssh://[user@]host[:port][/docker/socket]` with the ssh config (URL parts win)."""
    parts = urlsplit(url)
    try:
        url_port = parts.port
    except ValueError:
        raise PermanentError(f"{url}: invalid port in node URL") from None
    if parts.scheme != "ssh" or not parts.hostname:
        raise PermanentError(f"{url}: expected ssh://[user@]host[:port][/path/to/docker.sock]")
    if parts.password is not None:
        raise PermanentError(f"{url}: passwords in node URLs are not supported; use a key")
    if parts.query or parts.fragment:
        raise PermanentError(f"{url}: unexpected ?query or #fragment in node URL")
    cfg = _ssh_config(url, options).lookup(parts.hostname)
    if "proxycommand" in cfg or "proxyjump" in cfg:
        raise PermanentError(f"{url}: ProxyCommand/ProxyJump in the ssh config are not supported")
    try:
        port = url_port or int(cfg.get("port", 22))
    except ValueError:
        raise PermanentError(f"{url}: invalid Port {cfg['port']!r} in the ssh config") from None
    path = unquote(parts.path)
    known = options.known_hosts or cfg.get("userknownhostsfile") or "~/.ssh/known_hosts"
    return SshTarget(
        url=url,
        host=cfg.get("hostname", parts.hostname),
        port=port,
        user=unquote(parts.username) if parts.username else cfg.get("user") or getpass.getuser(),
        socket_path=path if path not in ("", "/") else DEFAULT_DOCKER_SOCKET,
        identity_files=tuple(os.path.expanduser(f) for f in cfg.get("identityfile", [])),
        identities_only=cfg.get("identitiesonly", "no").lower() == "yes",
        known_hosts=tuple(os.path.expanduser(f) for f in known.split()),
        accept_new=options.accept_new_host_key or cfg.get("stricthostkeychecking", "").lower() == "accept-new",
    )


def _ssh_config(url: str, options: SshOptions) -> paramiko.SSHConfig:
    explicit = options.config_file or os.environ.get("GITKUBE_SSH_CONFIG")
    path = os.path.expanduser(explicit or "~/.ssh/config")
    if not explicit and not os.path.exists(path):
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(path)
    except (OSError, paramiko.ConfigParseError) as e:
        raise PermanentError(f"{url}: cannot read ssh config {path}: {e}") from e


def open_client(target: SshTarget, options: SshOptions) -> paramiko.SSHClient:
    """Connect, verify the host key, authenticate. Raises TransientError or PermanentError."""
    sock = _tcp_connect(target, options)
    client = paramiko.SSHClient()
    for path in (GLOBAL_KNOWN_HOSTS, *target.known_hosts):
        if os.path.isfile(path):
            client.load_host_keys(path)
    client.set_missing_host_key_policy(_UnknownHostKey(target))
    keys = [f for f in target.identity_files if os.path.isfile(f)]
    t = options.connect_timeout
    started = time.monotonic()
    try:
        client.connect(
            target.host, target.port, username=target.user, sock=sock,
            timeout=t, banner_timeout=t, auth_timeout=t, channel_timeout=t,
            key_filename=keys or None, allow_agent=not target.identities_only,
            look_for_keys=not target.identities_only, transport_factory=_transport,
        )
    except BaseException as e:
        client.close()
        sock.close()
        raise _connect_error(target, e, t if time.monotonic() - started >= t else None) from e
    client.get_transport().set_keepalive(options.keepalive)
    return client


def _transport(sock: socket.socket, **kwargs) -> paramiko.Transport:
    transport = paramiko.Transport(sock, **kwargs)
    transport.set_log_channel(PARAMIKO_LOG)
    return transport


def _tcp_connect(target: SshTarget, options: SshOptions) -> socket.socket:
    where = f"sshd at {target.host}:{target.port}"
    try:
        sock = socket.create_connection((target.host, target.port), timeout=options.connect_timeout)
    except socket.gaierror as e:
        raise TransientError(f"{target.url}: cannot resolve {target.host}: {e.strerror}") from e
    except TimeoutError as e:
        raise TransientError(f"{target.url}: {where} did not answer within {options.connect_timeout:g} s") from e
    except OSError as e:
        raise TransientError(f"{target.url}: cannot reach {where}: {e.strerror or e}") from e
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    user_timeout_ms = int(max(options.read_timeout, options.connect_timeout) * 1000)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)
    return sock


def _connect_error(target: SshTarget, e: BaseException, timed_out: float | None) -> BaseException:
    """`timed_out` is the connect timeout when it ran out (paramiko then says e.g. "No existing session")."""
    url = target.url
    if isinstance(e, RuntimeFailure):
        return e
    if isinstance(e, paramiko.BadHostKeyException):
        return PermanentError(
            f"{url}: HOST KEY CHANGED for {target.known_hosts_name}: it now offers {_describe(e.key)}, "
            f"but {_first_existing(target.known_hosts)} records {_describe(e.expected_key)}. Someone may be "
            f"intercepting the connection, or the host was reinstalled; verify the new key before replacing the old one"
        )
    if isinstance(e, paramiko.AuthenticationException) or "No authentication methods" in str(e):
        tried = ", ".join(target.identity_files) or "default keys and ssh-agent"
        return PermanentError(f"{url}: ssh authentication as {target.user} failed ({e}); keys tried: {tried}")
    where = f"sshd at {target.host}:{target.port}"
    if isinstance(e, (paramiko.SSHException, EOFError, OSError)) and timed_out is not None:
        return TransientError(f"{url}: {where} did not complete the SSH handshake within {timed_out:g} s")
    if isinstance(e, (paramiko.SSHException, EOFError, OSError)):
        return TransientError(f"{url}: SSH handshake with {where} failed: {str(e) or type(e).__name__}")
    return e


class _UnknownHostKey(paramiko.MissingHostKeyPolicy):
    """Refuse a key that no known_hosts file lists -- unless the caller opted in to trust it."""

    def __init__(self, target: SshTarget):
        self.target = target

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        path = self.target.known_hosts[0]
        if not self.target.accept_new:
            raise PermanentError(
                f"{self.target.url}: host key for {hostname} is not known ({path}); it offers {_describe(key)}. "
                f"Verify it and add it, or pass --accept-new-host-key"
            )
        _append_known_host(path, hostname, key)


def _append_known_host(path: str, hostname: str, key: paramiko.PKey) -> None:
    """Append like OpenSSH does: one line, the file's other lines (comments, hashed names) untouched."""
    line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
    except OSError:  # missing or empty
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(line)


def _describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _first_existing(paths: tuple[str, ...]) -> str:
    return next((p for p in paths if os.path.isfile(p)), paths[0])


class SshLink:
    """The one SSH connection to a node, shared by all threads and reopened after it died.

    When the host is gone, threads waiting for a reconnect share the outcome of the attempt
    that was running while they waited, so N workers fail after one connect timeout, not N.
    """

    def __init__(self, target: SshTarget, options: SshOptions):
        self.target = target
        self.options = options
        self._lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None
        self._last_error: RuntimeFailure | None = None
        self._failed_at = 0.0
        self._closed = False
        self._reconnect()

    def transport(self) -> paramiko.Transport:
        """The live transport; reconnects (bounded by connect_timeout) if it died."""
        t = self._current()
        if t is not None:
            return t
        arrived = time.monotonic()
        with self._lock:
            t = self._current()
            if t is not None:
                return t
            err = self._last_error
            if err is not None and self._failed_at >= arrived:
                raise type(err)(str(err))  # an attempt failed while we waited: don't repeat it
            return self._reconnect()

    def _current(self) -> paramiko.Transport | None:
        client = self._client
        t = client.get_transport() if client is not None else None
        return t if t is not None and t.is_active() else None

    def _reconnect(self) -> paramiko.Transport:
        if self._closed:
            raise TransientError(f"{self.target.url}: connection was closed")
        if self._client is not None:
            self._client.close()
            self._client = None
        try:
            self._client = open_client(self.target, self.options)
        except RuntimeFailure as e:
            self._last_error, self._failed_at = e, time.monotonic()
            raise
        self._last_error = None
        return self._client.get_transport()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._client is not None:
                self._client.close()
                self._client = None
