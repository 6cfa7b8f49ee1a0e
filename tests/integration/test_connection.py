"""NodeConnection against a real dockerd and a real sshd on 127.0.0.1 -- no mocks.

The same behaviours are proven for the local unix socket and for our SSH transport
(direct-streamlocal channels); SSH-only properties (host keys, auth, dead hosts, one connection
shared by threads) follow. Every container made here is labelled `gitkube.io/test=1` plus the
run's `gitkube.io/test-run` label and removed by those labels.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
from docker.utils import version_lt

from gitkube.errors import PermanentError, TransientError
from gitkube.runtime import dockerhttp
from gitkube.runtime.connection import NodeConnection, SshOptions, connect
from testbed import TEST_IMAGE, is_ci
from testbed.images import INDEX_HTML
from testbed.procs import terminate_with_children
from testbed.sshd import SshFiles, free_port, wait_banner

TEST_LABEL = {"gitkube.io/test": "1"}
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]
POLITE = ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done']


@pytest.fixture
def labels(test_labels) -> dict[str, str]:
    return {**TEST_LABEL, **test_labels}


@pytest.fixture
def ssh_options(ssh_host) -> SshOptions:
    return SshOptions(config_file=str(ssh_host.config), known_hosts=str(ssh_host.known_hosts))


@pytest.fixture
def ssh_url(ssh_host) -> str:
    return f"ssh://root@{ssh_host.host}:{ssh_host.port}"


@pytest.fixture(params=["unix", "ssh"])
def node(request, docker_engine, labels) -> Iterator[NodeConnection]:
    """The local engine, once over its unix socket and once through the private sshd."""
    if request.param == "unix":
        conn = connect(os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"))
    else:
        conn = connect(request.getfixturevalue("ssh_url"), request.getfixturevalue("ssh_options"))
    try:
        yield conn
    finally:
        _remove_labelled(conn, labels)
        conn.close()


def _remove_labelled(conn: NodeConnection, labels: dict[str, str]) -> None:
    wanted = [f"{k}={v}" for k, v in labels.items()]
    for c in conn.api.containers(all=True, filters={"label": wanted}):
        try:
            conn.api.remove_container(c["Id"], force=True)
        except docker.errors.APIError as e:  # gone already, or the test bed's cleanup is removing it
            if e.status_code not in (404, 409):
                raise


def _run_container(conn: NodeConnection, labels: dict[str, str], command: list[str]) -> str:
    cid = conn.api.create_container(TEST_IMAGE, command, labels=labels)["Id"]
    conn.api.start(cid)
    return cid


def _open_tcp_retrying(conn: NodeConnection, host: str, port: int, within: float = 10.0):
    deadline = time.monotonic() + within
    while True:
        try:
            return conn.open_tcp(host, port, timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _raises(call) -> BaseException | None:
    try:
        call()
    except Exception as e:  # noqa: BLE001 -- returned for the caller to assert on
        return e
    return None


def _http_get(sock) -> bytes:
    try:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------
# both transports


def test_connect_negotiates_an_api_version_and_pings(node):
    assert node.ping() is True and node.last_error is None
    server = node.api.version(api_version=False)["ApiVersion"]
    ours = docker.constants.DEFAULT_DOCKER_API_VERSION
    assert node.api.api_version == (server if version_lt(server, ours) else ours)
    assert node.api.info()["ID"]


def test_container_lifecycle_with_streamed_logs(node, labels):
    cid = _run_container(node, labels, ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.1; done"])
    lines = b"".join(node.api.logs(cid, stream=True, follow=True)).splitlines()
    assert lines == [b"line1", b"line2", b"line3"]
    assert node.api.wait(cid, timeout=10)["StatusCode"] == 0
    node.api.remove_container(cid, force=True)
    assert not node.api.containers(all=True, filters={"id": cid})


def test_exec_returns_output_plain_demuxed_and_streamed(node, labels):
    cid = _run_container(node, labels, POLITE)
    ex = node.api.exec_create(cid, ["sh", "-c", "echo out; echo err >&2"])
    assert sorted(node.api.exec_start(ex["Id"]).splitlines()) == [b"err", b"out"]  # stdout/stderr interleave freely
    ex = node.api.exec_create(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert node.api.exec_start(ex["Id"], demux=True) == (b"out\n", b"err\n")
    assert node.api.exec_inspect(ex["Id"])["ExitCode"] == 3
    ex = node.api.exec_create(cid, ["sh", "-c", "for i in 1 2 3; do echo s$i; sleep 0.1; done"])
    assert b"".join(node.api.exec_start(ex["Id"], stream=True)) == b"s1\ns2\ns3\n"


def test_exec_output_is_not_lost_when_the_response_head_is_read_late(node, labels, monkeypatch):
    """docker-py reads a hijacked exec stream from the socket itself: a response head read with
    read-ahead swallows output that arrived with it (docker-py's own transports lose it this way
    under load). A delay before reading the head makes that deterministic."""
    cid = _run_container(node, labels, POLITE)
    read_head = dockerhttp._StreamConnection.getresponse

    def late(self):
        time.sleep(0.3)
        return read_head(self)

    monkeypatch.setattr(dockerhttp._StreamConnection, "getresponse", late)
    for stream in (False, True):
        ex = node.api.exec_create(cid, ["echo", "first"])
        out = node.api.exec_start(ex["Id"], stream=stream)
        assert (out if isinstance(out, bytes) else b"".join(out)) == b"first\n"


def test_events_stream_reports_a_container_being_created(node, labels):
    events = node.api.events(decode=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
    seen: list[str] = []

    def watch() -> None:
        with node.translate_errors():
            for ev in events:
                seen.append(ev.get("Action", ""))
                if ev.get("Action") == "start":
                    return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    _run_container(node, labels, POLITE)
    t.join(10)
    events.close()  # a stream must be cancellable over SSH too (docker-py refuses for its own ssh)
    assert seen[:2] == ["create", "start"]


def test_open_tcp_reaches_a_pod_ip_on_the_node(node, labels):
    cid = _run_container(node, labels, HTTPD)
    ip = node.api.inspect_container(cid)["NetworkSettings"]["IPAddress"]
    reply = _http_get(_open_tcp_retrying(node, ip, 8080))
    assert reply.startswith(b"HTTP/1.") and reply.endswith(INDEX_HTML)
    with pytest.raises(ConnectionRefusedError):
        node.open_tcp(ip, 8081, timeout=5)  # nothing listens there: a probe failure, not a node failure


def test_run_executes_argv_on_the_node_without_a_shell_in_between(node, tmp_path):
    victim = tmp_path / "x"
    victim.mkdir()
    hostile = f"; rm -rf {victim} $(rm -rf {victim}) `rm -rf {victim}` ' \" * \n"
    rc, out, err = node.run(["echo", hostile])
    assert (rc, out, err) == (0, hostile.encode() + b"\n", b"")
    assert victim.is_dir()
    assert node.run(["sh", "-c", "echo hi; echo oops >&2; exit 3"]) == (3, b"hi\n", b"oops\n")
    assert node.run(["cat"], input=b"x" * 300_000) == (0, b"x" * 300_000, b"")
    assert node.run(["no-such-command-gk"])[0] == 127


def test_run_times_out_instead_of_hanging(node):
    t0 = time.monotonic()
    with pytest.raises(TransientError, match="did not finish within 1 s"):
        node.run(["sleep", "10"], timeout=1)
    assert time.monotonic() - t0 < 3


# ---------------------------------------------------------------------------------------------
# unix only


def test_unix_socket_that_is_missing_is_transient(tmp_path):
    url = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(TransientError, match=f"^{url}: docker engine not reachable: cannot connect"):
        connect(url)


def test_no_url_means_docker_host(monkeypatch, docker_engine):
    monkeypatch.setenv("DOCKER_HOST", os.environ.get("GITKUBE_TEST_DOCKER_HOST", "unix:///var/run/docker.sock"))
    with connect(None) as conn:
        assert conn.url == os.environ["DOCKER_HOST"] and conn.ping()


# ---------------------------------------------------------------------------------------------
# ssh only


def test_eight_threads_share_one_ssh_connection(ssh_url, ssh_options, docker_engine, labels):
    with connect(ssh_url, ssh_options) as conn:
        transport = conn.link.transport()

        def create_and_start(i: int) -> str:
            return _run_container(conn, labels, POLITE)

        try:
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(create_and_start, range(16)))
            running = conn.api.containers(filters={"label": [f"{k}={v}" for k, v in labels.items()]})
            assert {c["Id"] for c in running} == set(ids)
            assert conn.link.transport() is transport  # no reconnects: one SSH connection did it all
        finally:
            _remove_labelled(conn, labels)


@pytest.fixture
def sshd_max_sessions_2(ssh_host, tmp_path) -> Iterator[tuple[str, SshOptions]]:
    """A second private sshd that allows only two sessions per connection (default is 10)."""
    files = SshFiles(ssh_host.ssh_dir)
    port = free_port()
    conf = tmp_path / "sshd_config"
    conf.write_text(f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {files.host_key}\nPidFile {tmp_path}/pid\n"
                    f"AuthorizedKeysFile {files.authorized_keys}\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nUsePAM no\nStrictModes no\nMaxSessions 2\n")
    with open(tmp_path / "log", "wb") as log:
        proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)], stdout=log, stderr=log)
    try:
        assert wait_banner("127.0.0.1", port), (tmp_path / "log").read_text()
        config = tmp_path / "config"
        config.write_text(f"Host 127.0.0.1\n  User root\n  IdentityFile {files.client_key}\n  IdentitiesOnly yes\n")
        yield (f"ssh://127.0.0.1:{port}",
               SshOptions(config_file=str(config), known_hosts=str(tmp_path / "known_hosts"), accept_new_host_key=True))
    finally:
        terminate_with_children(proc.pid)


def test_docker_channels_do_not_count_against_max_sessions(sshd_max_sessions_2, docker_engine, labels):
    """docker-py's transport needs a session per pooled connection (8 threads failed against the
    default MaxSessions 10 in LAB.md); streamlocal channels are not sessions."""
    url, options = sshd_max_sessions_2
    with connect(url, options) as conn:
        try:
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(lambda _: _run_container(conn, labels, POLITE), range(8)))
            assert len(set(ids)) == 8
            assert conn.run(["echo", "a session still works"])[1] == b"a session still works\n"
        finally:
            _remove_labelled(conn, labels)


def test_ssh_connection_is_reopened_after_it_died(ssh_url, ssh_options, docker_engine):
    with connect(ssh_url, ssh_options) as conn:
        first = conn.link.transport()
        first.close()  # as if the peer had gone away
        assert conn.api.version()["ApiVersion"]
        assert conn.link.transport() is not first
        assert conn.ping()


def test_engine_down_behind_a_live_sshd_is_transient(ssh_url, ssh_options, docker_engine):
    url = f"{ssh_url}/nonexistent/docker.sock"
    with pytest.raises(TransientError) as e:
        connect(url, ssh_options)
    assert str(e.value) == (f"{url}: docker engine not reachable: sshd could not open a connection to "
                            f"unix socket /nonexistent/docker.sock: Connect failed")


def test_unknown_host_key_is_rejected_unless_accepted(ssh_url, ssh_host, tmp_path, docker_engine):
    known = tmp_path / "known_hosts"
    options = SshOptions(config_file=str(ssh_host.config), known_hosts=str(known))
    with pytest.raises(PermanentError) as e:
        connect(ssh_url, options)
    name = f"[{ssh_host.host}]:{ssh_host.port}"
    assert f"host key for {name} is not known ({known})" in str(e.value)
    assert "verify it and add it, or pass --accept-new-host-key" in str(e.value).lower()
    assert not known.exists()

    options.accept_new_host_key = True
    with connect(ssh_url, options) as conn:
        assert conn.ping()
    assert known.read_text() == f"{name} {SshFiles(ssh_host.ssh_dir).host_pubkey()}\n"

    options.accept_new_host_key = False  # now known: verified like any other
    with connect(ssh_url, options) as conn:
        assert conn.ping()


def test_changed_host_key_is_rejected_loudly(ssh_url, ssh_host, tmp_path, docker_engine):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    pub = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known.write_text(f"[{ssh_host.host}]:{ssh_host.port} {pub}\n")
    for accept in (False, True):  # accept-new never overrides a *changed* key
        options = SshOptions(config_file=str(ssh_host.config), known_hosts=str(known), accept_new_host_key=accept)
        with pytest.raises(PermanentError, match="HOST KEY CHANGED"):
            connect(ssh_url, options)


def test_failed_authentication_is_permanent(ssh_host, tmp_path, docker_engine):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    config = tmp_path / "config"
    config.write_text(f"Host gk-auth-test\n  HostName {ssh_host.host}\n  Port {ssh_host.port}\n  User root\n"
                      f"  IdentityFile {stranger}\n  IdentitiesOnly yes\n  UserKnownHostsFile {ssh_host.known_hosts}\n")
    with pytest.raises(PermanentError, match=r"^ssh://gk-auth-test: ssh authentication as root failed"):
        connect("ssh://gk-auth-test", SshOptions(config_file=str(config)))


def test_a_peer_that_never_speaks_ssh_fails_within_the_connect_timeout():
    with socket.socket() as listener:  # accepts TCP (kernel backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(TransientError, match="did not complete the SSH handshake within 5 s"):
            connect(f"ssh://root@127.0.0.1:{port}", SshOptions(config_file=os.devnull))
        assert time.monotonic() - t0 <= 10


class _Drop:
    """A dedicated iptables rule dropping everything sent to the test sshd's port."""

    def __init__(self, iptables: str, port: int):
        self.iptables = iptables
        self.rule = ["INPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(port),
                     "-m", "comment", "--comment", f"gitkube-test-connection-{os.getpid()}", "-j", "DROP"]
        self.active = False

    def start(self) -> None:
        subprocess.run([self.iptables, "-I", *self.rule], check=True)
        self.active = True

    def stop(self) -> None:
        if self.active:
            subprocess.run([self.iptables, "-D", *self.rule], check=True)
            self.active = False


@pytest.fixture
def drop_packets(ssh_host) -> Iterator[_Drop]:
    iptables = shutil.which("iptables", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if os.geteuid() != 0 or iptables is None:
        (pytest.fail if is_ci() else pytest.skip)("dropping packets needs root and iptables")
    drop = _Drop(iptables, ssh_host.port)
    try:
        yield drop
    finally:
        drop.stop()


def test_a_host_that_drops_packets_fails_fast_then_recovers(ssh_url, ssh_options, docker_engine, drop_packets):
    with connect(ssh_url, ssh_options) as conn:
        assert conn.ping()
        drop_packets.start()
        t0 = time.monotonic()
        assert conn.ping() is False  # the pooled channel: bounded by the ping timeout
        assert time.monotonic() - t0 <= 10
        assert conn.last_error.startswith(f"{ssh_url}: docker engine did not answer")
        for call in (conn.api.info, lambda: conn.run(["true"]), lambda: conn.open_tcp("127.0.0.1", 9, 5)):
            t0 = time.monotonic()
            with pytest.raises(TransientError, match=f"^{ssh_url}: "):
                call()  # a new channel on the dead link, or a reconnect: bounded as well
            assert time.monotonic() - t0 <= 10
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:  # eight workers share one reconnect attempt, not eight in a row
            failures = list(pool.map(lambda _: _raises(conn.api.version), range(8)))
        assert all(isinstance(f, TransientError) for f in failures), failures
        assert time.monotonic() - t0 <= 10
        drop_packets.stop()
        deadline = time.monotonic() + 15
        while not conn.ping():  # the dead link is replaced by a new connection
            assert time.monotonic() < deadline, conn.last_error
        assert conn.run(["echo", "back"]) == (0, b"back\n", b"")
