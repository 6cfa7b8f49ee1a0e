"""docker-py's APIClient over whatever stream a node hands us: a unix socket or an SSH channel.

docker-py keeps one connection pool per request URL; over SSH every new pool costs a channel and a
remote ``docker system dial-stdio`` process (LAB.md §2). Here one pool serves every URL, and the
connections come from an *opener* -- a unix ``connect`` locally, a ``direct-streamlocal`` channel to
the node's Docker socket over SSH -- so requests cost what they cost on a local socket.

Transport failures are raised as gitkube errors naming the node URL (`transport_error`); answers of
the engine itself (404, 409, 500 ...) stay ``docker.errors.APIError`` for the caller to judge.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import docker
import paramiko
import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
from docker.utils import version_lt

from gitkube.errors import PermanentError, RuntimeFailure, TransientError
from gitkube.runtime.channels import ChannelOpenFailed

# ~8 agent workers plus event watchers and log followers. Beyond this, connections are opened when
# needed and closed after use (urllib3 warns "pool is full"). Over SSH these are streamlocal
# channels, which sshd's MaxSessions does not limit (tested), so the size is not capped by it.
POOL_SIZE = 16

# docker-py hands out raw-stream sockets (exec, attach) as `response.raw._fp.fp.channel` when the
# base URL starts with this (APIClient._get_raw_response_socket); our response files provide
# `.channel` -- the paramiko channel or the unix socket -- for both kinds of node.
BASE_URL = "http+docker://ssh"

Opener = Callable[[], Any]  # returns a connected socket.socket or paramiko.Channel


class _StreamIO(io.RawIOBase):
    """Raw reads from a socket or channel; `.sock` is what docker-py's stream cancel shuts down.

    `exact`: read byte by byte. Used for the response head of an upgraded (hijacked) request:
    docker-py then reads the stream from the socket itself, so anything read ahead into a buffer
    here would be lost -- the first line of exec output went missing that way over SSH.
    """

    def __init__(self, sock: Any, exact: bool):
        super().__init__()
        self.sock = sock
        self.exact = exact

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.sock.recv(1 if self.exact else len(b))
        b[: len(data)] = data
        return len(data)


class _StreamFile(io.BufferedReader):
    """The response file http.client reads from."""

    def __init__(self, sock: Any, exact: bool):
        super().__init__(_StreamIO(sock, exact))
        self.channel = sock


class _StreamSock:
    """What http.client and urllib3 need from a socket, over a unix socket or paramiko channel."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.exact_reads = False  # set per request by _StreamConnection

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> _StreamFile:
        return _StreamFile(self.inner, self.exact_reads)

    def __getattr__(self, name: str) -> Any:  # sendall, settimeout, fileno, shutdown, close, recv ...
        return getattr(self.inner, name)


class _StreamConnection(urllib3.connection.HTTPConnection):
    def __init__(self, *args: Any, opener: Opener, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._opener = opener
        self._upgrade = False

    def _new_conn(self) -> _StreamSock:
        sock = self._opener()
        if self.timeout is None or isinstance(self.timeout, (int, float)):
            sock.settimeout(self.timeout)
        return _StreamSock(sock)

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self._upgrade = False
        super().putrequest(*args, **kwargs)

    def putheader(self, header: str, *values: Any) -> None:
        if header.lower() == "upgrade":
            self._upgrade = True
        super().putheader(header, *values)

    def getresponse(self):
        if self.sock is not None:
            self.sock.exact_reads = self._upgrade
        return super().getresponse()


class _StreamPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _StreamConnection


class NodeAdapter(requests.adapters.HTTPAdapter):
    """One pool for every URL of one node; maps transport failures to gitkube errors."""

    def __init__(self, url: str, opener: Opener, pool_size: int = POOL_SIZE):
        self.url = url
        self._pool = _StreamPool("localhost", maxsize=pool_size, opener=opener)
        super().__init__(pool_connections=1, pool_maxsize=pool_size)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):  # requests ≥ 2.32
        return self._pool

    def get_connection(self, url, proxies=None):
        return self._pool

    def request_url(self, request, proxies) -> str:
        return request.path_url

    def send(self, request, stream=False, timeout=None, **kwargs):
        try:
            response = super().send(request, stream=stream, timeout=timeout, **kwargs)
            if not stream:
                response.content  # read the body here, so a failure while reading it is mapped too
            return response
        except Exception as e:
            mapped = transport_error(self.url, e, timeout)
            if mapped is e:
                raise
            raise mapped from e

    def close(self) -> None:
        super().close()
        self._pool.close()


def transport_error(url: str, e: BaseException, timeout: float | tuple | None = None) -> BaseException:
    """The gitkube error for a failure talking to a node's engine; other exceptions come back unchanged."""
    if isinstance(e, RuntimeFailure):
        return e
    root = _root_cause(e)
    if isinstance(root, ChannelOpenFailed) and root.prohibited:
        return PermanentError(f"{url}: {root}")
    if isinstance(root, TimeoutError) and str(root) not in ("", "timed out"):  # ours, e.g. a channel open
        return TransientError(f"{url}: docker engine not reachable: {root}")
    if isinstance(e, (requests.Timeout, urllib3.exceptions.TimeoutError)) or isinstance(root, TimeoutError):
        read = timeout[1] if isinstance(timeout, tuple) else timeout
        within = f" within {read:g} s" if isinstance(read, (int, float)) else ""
        return TransientError(f"{url}: docker engine did not answer{within}")
    if isinstance(e, (requests.ConnectionError, urllib3.exceptions.HTTPError, OSError, EOFError,
                      paramiko.SSHException, requests.exceptions.ChunkedEncodingError)):
        return TransientError(f"{url}: docker engine not reachable: {_describe(root)}")
    return e


def _root_cause(e: BaseException) -> BaseException:
    """The innermost exception under requests' and urllib3's wrappers (they nest via args/reason)."""
    seen: set[int] = set()
    while id(e) not in seen:
        seen.add(id(e))
        reason = getattr(e, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        inner = inner or next((a for a in reversed(e.args) if isinstance(a, BaseException)), None)
        inner = inner or e.__cause__
        if inner is None:
            break
        e = inner
    return e


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and not e.filename:
        return e.strerror
    return str(e) or type(e).__name__


@contextlib.contextmanager
def mapped_errors(url: str) -> Iterator[None]:
    """Map transport failures inside the block (e.g. while iterating a stream) to gitkube errors."""
    try:
        yield
    except Exception as e:
        mapped = transport_error(url, e)
        if mapped is e:
            raise
        raise mapped from e


def api_client(adapter: NodeAdapter, timeout: float) -> docker.APIClient:
    """A docker.APIClient whose every request goes through `adapter`, with a negotiated API version."""
    version = _negotiate(adapter, timeout)
    # APIClient has no hook for a custom transport: build it for a unix URL (no I/O happens with an
    # explicit version), then swap in our adapter exactly where its __init__ put docker-py's.
    api = docker.APIClient(base_url="unix:///var/run/docker.sock", version=version, timeout=timeout)
    api.mount("http+docker://", adapter)
    api._custom_adapter = adapter
    api.base_url = BASE_URL
    api.trust_env = False  # no HTTP proxies or .netrc lookups for node traffic
    return api


def _negotiate(adapter: NodeAdapter, timeout: float) -> str:
    """min(server's API version, docker-py's), like the docker CLI; one GET /version."""
    response = adapter.send(requests.Request("GET", f"{BASE_URL}/version").prepare(), timeout=timeout)
    try:
        response.raise_for_status()
        server = response.json()["ApiVersion"]
    except (ValueError, KeyError, requests.HTTPError) as e:
        raise PermanentError(f"{adapter.url}: not a Docker engine API (GET /version: {e})") from e
    finally:
        response.close()
    ours = docker.constants.DEFAULT_DOCKER_API_VERSION
    version = server if version_lt(server, ours) else ours
    if version_lt(version, docker.constants.MINIMUM_DOCKER_API_VERSION):
        raise PermanentError(f"{adapter.url}: Docker API {server} is too old (need ≥ "
                             f"{docker.constants.MINIMUM_DOCKER_API_VERSION})")
    return version
