"""The test bed itself works: local engine + offline image, Docker over the private sshd, host-key
checking, and netns Docker hosts that reach each other across the bridge."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest

from testbed import TEST_IMAGE
from testbed.images import INDEX_HTML

HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]


def _wget(client, url: str, labels: dict, seconds: int = 10) -> bytes:
    # busybox 1.35 `wget -T` segfaults: bound it with `timeout` instead
    return client.containers.run(TEST_IMAGE, ["sh", "-c", f"timeout {seconds} wget -q -O- {url}"],
                                 remove=True, labels=labels)


def _wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_local_engine_runs_test_image_and_httpd_answers(docker_engine, test_labels):
    img = docker_engine.images.get(TEST_IMAGE)
    assert "PATH=/bin" in img.attrs["Config"]["Env"]
    assert img.attrs["Size"] < 5_000_000

    srv = docker_engine.containers.run(TEST_IMAGE, HTTPD, detach=True, labels=test_labels,
                                       ports={"8080/tcp": ("127.0.0.1", None)})
    try:
        srv.reload()
        ip = srv.attrs["NetworkSettings"]["IPAddress"]
        port = int(srv.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        # container -> container on the default bridge
        assert _wget(docker_engine, f"http://{ip}:8080/", test_labels) == INDEX_HTML
        # host -> published port on loopback
        _wait_port("127.0.0.1", port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.read() == INDEX_HTML
    finally:
        srv.remove(force=True)


def test_docker_sdk_over_private_sshd(ssh_host, docker_engine):
    assert ssh_host.docker_host_url == f"ssh://root@127.0.0.1:{ssh_host.port}"
    t0 = time.monotonic()
    client = ssh_host.docker_client()
    try:
        assert client.ping()
        # same engine as the unix socket one
        assert client.info()["ID"] == docker_engine.info()["ID"]
        assert client.images.get(TEST_IMAGE).id == docker_engine.images.get(TEST_IMAGE).id
    finally:
        client.close()
    assert time.monotonic() - t0 < 10
    # the OpenSSH client with the generated config works too (BatchMode: never prompts)
    r = subprocess.run(ssh_host.ssh_argv("docker", "version", "--format", "{{.Server.APIVersion}}"),
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


def test_unknown_or_wrong_host_key_is_rejected(ssh_host, tmp_path):
    import docker
    import paramiko

    # paramiko (docker-py's default transport): empty known_hosts -> rejected
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(ssh_host.config.read_text())
    (home / ".ssh" / "known_hosts").write_text("")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
            docker.DockerClient(base_url=ssh_host.docker_host_url, use_ssh_client=False, timeout=10)
        # a different key recorded for the host -> rejected as well
        other = tmp_path / "other_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        pub = " ".join(other.with_suffix(".pub").read_text().split()[:2])
        (home / ".ssh" / "known_hosts").write_text(f"[{ssh_host.host}]:{ssh_host.port} {pub}\n")
        with pytest.raises(paramiko.BadHostKeyException):
            docker.DockerClient(base_url=ssh_host.docker_host_url, use_ssh_client=False, timeout=10)
    finally:
        if old is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old

    # OpenSSH client: StrictHostKeyChecking yes + an empty known_hosts -> refuses, no prompt
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    r = subprocess.run(["ssh", "-F", str(ssh_host.config), "-o", f"UserKnownHostsFile={empty}",
                        "-p", str(ssh_host.port), ssh_host.host, "true"],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 255
    assert "Host key verification failed" in r.stderr


def test_multihost_hosts_reach_each_other_across_the_bridge(multihost, test_labels):
    h1, h2 = multihost[0], multihost[1]
    c1, c2 = h1.client(), h2.client()
    try:
        i1, i2 = c1.info(), c2.info()
        assert i1["DockerRootDir"] != i2["DockerRootDir"]
        assert i1["ID"] != i2["ID"]
        assert c1.images.get(TEST_IMAGE).id == c2.images.get(TEST_IMAGE).id  # save/load keeps the ID

        srv = c1.containers.run(TEST_IMAGE, HTTPD, detach=True, labels=test_labels, ports={"8080/tcp": 18080})
        srv.reload()
        assert srv.attrs["NetworkSettings"]["IPAddress"].startswith("172.31.1.")  # h1's pod subnet
        _wait_port(h1.ip, 18080)
        # a container on h2 -> h1's published port, across gk-br0
        assert _wget(c2, f"http://{h1.ip}:18080/", test_labels) == INDEX_HTML
        # and the root namespace reaches it too
        with urllib.request.urlopen(f"http://{h1.ip}:18080/", timeout=5) as r:
            assert r.read() == INDEX_HTML
    finally:
        c1.close()
        c2.close()

    # each host's sshd leads to that host's own engine
    s2 = h2.ssh_client()
    try:
        assert s2.info()["DockerRootDir"] == i2["DockerRootDir"]
    finally:
        s2.close()


def test_multihost_failure_helpers(multihost):
    h = multihost[-1]
    # black-holed host: connections hang (no RST), then work again
    h.drop_traffic()
    with pytest.raises(OSError):
        socket.create_connection((h.ip, 22), timeout=1).close()
    h.restore_traffic()
    _wait_port(h.ip, 22, timeout=5)
    # engine killed -> socket refuses; restarted -> answers
    h.stop_engine(kill=True)
    assert not h.engine_alive()
    took = h.start_engine()
    assert h.engine_alive()
    assert took < 30
