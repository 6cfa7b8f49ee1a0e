"""How a node URL and the ssh config combine into where and how gitkube logs in (no network)."""

from __future__ import annotations

import os

import pytest

from gitkube.errors import PermanentError
from gitkube.runtime.connection import connect
from gitkube.runtime.ssh import DEFAULT_DOCKER_SOCKET, SshOptions, resolve_target

CONFIG = """\
Host alias
  HostName 10.1.2.3
  User deploy
  Port 2200
  IdentityFile ~/keys/alias_ed25519
  IdentityFile /etc/gitkube/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile /etc/gitkube/known_hosts /etc/gitkube/known_hosts2

Host trusting
  StrictHostKeyChecking accept-new

Host jumpy
  ProxyJump bastion

Host *
  User fallback
"""


@pytest.fixture
def options(tmp_path, monkeypatch) -> SshOptions:
    monkeypatch.delenv("GITKUBE_SSH_CONFIG", raising=False)
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return SshOptions(config_file=str(path))


def test_ssh_config_supplies_hostname_user_port_keys_and_known_hosts(options):
    t = resolve_target("ssh://alias", options)
    assert (t.host, t.user, t.port) == ("10.1.2.3", "deploy", 2200)
    assert t.identity_files == (os.path.expanduser("~/keys/alias_ed25519"), "/etc/gitkube/id_ed25519")
    assert t.identities_only is True
    assert t.known_hosts == ("/etc/gitkube/known_hosts", "/etc/gitkube/known_hosts2")
    assert t.known_hosts_name == "[10.1.2.3]:2200"
    assert t.socket_path == DEFAULT_DOCKER_SOCKET


def test_url_user_and_port_win_over_the_config(options):
    t = resolve_target("ssh://root@alias:22", options)
    assert (t.host, t.user, t.port) == ("10.1.2.3", "root", 22)
    assert t.known_hosts_name == "10.1.2.3"


def test_url_path_is_the_remote_docker_socket(options):
    t = resolve_target("ssh://root@127.0.0.1:2222/run/gk-h1/docker.sock", options)
    assert t.socket_path == "/run/gk-h1/docker.sock"
    assert resolve_target("ssh://root@127.0.0.1/", options).socket_path == DEFAULT_DOCKER_SOCKET


def test_unknown_hosts_get_the_wildcard_stanza_and_default_known_hosts(options):
    t = resolve_target("ssh://elsewhere", options)
    assert (t.host, t.user, t.port) == ("elsewhere", "fallback", 22)
    assert t.known_hosts == (os.path.expanduser("~/.ssh/known_hosts"),)
    assert t.identities_only is False


def test_explicit_known_hosts_option_wins_over_the_config(options):
    options.known_hosts = "/tmp/kh"
    assert resolve_target("ssh://alias", options).known_hosts == ("/tmp/kh",)


def test_host_keys_are_verified_unless_opted_in(options):
    assert resolve_target("ssh://alias", options).accept_new is False
    assert resolve_target("ssh://trusting", options).accept_new is True  # StrictHostKeyChecking accept-new
    options.accept_new_host_key = True
    assert resolve_target("ssh://alias", options).accept_new is True


def test_gitkube_ssh_config_env_is_used_when_no_file_is_given(tmp_path, monkeypatch):
    path = tmp_path / "env-config"
    path.write_text("Host n1\n  HostName 192.0.2.7\n  User ops\n")
    monkeypatch.setenv("GITKUBE_SSH_CONFIG", str(path))
    t = resolve_target("ssh://n1", SshOptions())
    assert (t.host, t.user) == ("192.0.2.7", "ops")


def test_explicit_config_file_wins_over_the_env(options, tmp_path, monkeypatch):
    other = tmp_path / "env-config"
    other.write_text("Host alias\n  HostName 192.0.2.99\n")
    monkeypatch.setenv("GITKUBE_SSH_CONFIG", str(other))
    assert resolve_target("ssh://alias", options).host == "10.1.2.3"


def test_a_named_config_file_that_is_missing_is_an_error(tmp_path):
    with pytest.raises(PermanentError, match="cannot read ssh config"):
        resolve_target("ssh://n1", SshOptions(config_file=str(tmp_path / "nope")))


@pytest.mark.parametrize(
    "url, message",
    [
        ("ssh://jumpy", "ProxyCommand/ProxyJump"),
        ("ssh://root:secret@host", "passwords in node URLs"),
        ("ssh://host:notaport", "invalid port"),
        ("ssh://", "expected ssh://"),
        ("ssh://host?x=1", "unexpected"),
    ],
    ids=["proxy jumps are refused", "passwords are refused", "a bad port is refused",
         "a missing host is refused", "a query string is refused"],
)
def test_bad_ssh_urls_are_permanent_errors_naming_the_url(options, url, message):
    with pytest.raises(PermanentError, match=message) as e:
        resolve_target(url, options)
    assert str(e.value).startswith(url)


@pytest.mark.parametrize(
    "url", ["tcp://127.0.0.1:2375", "unix://relative/docker.sock", "http://host"],
    ids=["tcp is refused", "a relative unix path is refused", "http is refused"],
)
def test_connect_refuses_unsupported_urls_before_any_io(url):
    with pytest.raises(PermanentError, match="unix"):
        connect(url)


def test_connect_without_url_uses_docker_host(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.1:2375")
    with pytest.raises(PermanentError, match=r"^tcp://192\.0\.2\.1:2375: unsupported"):
        connect(None)
