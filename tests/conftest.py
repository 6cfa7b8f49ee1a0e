"""Shared fixtures: the real components of the test bed (see tests/testbed/__init__.py and scripts/test).

Session fixtures (each FAILS under CI=true when its component is missing, and skips otherwise):

* ``docker_engine`` -- docker.DockerClient on the local engine ($GITKUBE_TEST_DOCKER_HOST, else
  unix:///var/run/docker.sock), with the offline test image ``gitkube.test/busybox:1`` ensured.
* ``ssh_host``      -- testbed.sshd.SshEndpoint of a private sshd on 127.0.0.1 (from the GITKUBE_TEST_SSH_*
  variables of scripts/test, else started here): host, port, user, key, known_hosts, config, home,
  bin_dir, docker_host_url (``ssh://root@127.0.0.1:PORT``), ssh_argv(...), docker_client().
* ``multihost``     -- testbed.netns_hosts.NetnsHosts: $GITKUBE_TEST_HOSTS (default 2) Docker hosts in
  network namespaces, brought up on first use and torn down at the end of the session.

Function fixtures: ``test_labels`` ({"gitkube.io/test-run": RUN_ID}) for anything a test creates by hand.

Cleanup: after every test that uses one of the fixtures above, containers on the engines it may have
touched are removed if they carry ``gitkube.io/test-run=<this run>``, or carry any ``gitkube.io/...``
label (gitkube's own, e.g. ``gitkube.io/managed-by``) and were created while the test ran -- the latter
only while no other test run is alive on this machine (shared dockerd). On the netns hosts (this run's
alone) every container created during the test goes; their packet drops are undone and stopped engines
restarted. The session fixtures repeat this for the whole session at the end.
Tests using these fixtures are marked ``docker`` / ``ssh`` / ``multihost`` automatically.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # makes `testbed` importable in any import mode

from testbed import GITKUBE_LABEL_PREFIX, LABEL_TEST_RUN, TEST_IMAGE, is_ci, testbed_dir  # noqa: E402

RUN_ID = os.environ.setdefault("GITKUBE_TEST_RUN_ID", uuid.uuid4().hex[:12])
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

_FIXTURE_MARKERS = {"docker_engine": "docker", "ssh_host": "ssh", "multihost": "multihost"}
_engines: dict[str, object] = {}  # base_url -> docker.DockerClient, engines tests may have touched
_multihost = None


def missing(what: str):
    """A real component is missing: fail under CI=true, skip elsewhere."""
    if is_ci():
        pytest.fail(f"CI=true and {what}", pytrace=False)
    pytest.skip(what)


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fx, marker in _FIXTURE_MARKERS.items():
            if fx in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


def pytest_report_header(config):
    ci = "CI=true: missing components FAIL" if is_ci() else "missing components skip"
    return [f"gitkube test bed: run {RUN_ID}, {ci}, "
            f"docker={os.environ.get('GITKUBE_TEST_DOCKER_HOST', DEFAULT_DOCKER_HOST)}, "
            f"ssh={os.environ.get('GITKUBE_TEST_SSH_DOCKER_HOST', '(started on demand)')}"]


# --------------------------------------------------------------------------------------------------
# cleanup by label
#
# Engines shared with other test runs (a developer machine where several people run the tests against
# one dockerd) must not lose the other runs' containers: every run registers its pid in _RUNS_DIR, and
# while another run is alive the cleanup on the local engine sticks to gitkube.io/test-run=<this run>.

_RUNS_DIR = Path("/run/lock/gitkube-test-runs")
_run_marker: Path | None = None
_warned_shared = False


def pytest_configure(config):
    global _run_marker
    try:
        _RUNS_DIR.mkdir(parents=True, exist_ok=True)
        _run_marker = _RUNS_DIR / f"{os.getpid()}"
        _run_marker.write_text(RUN_ID)
    except OSError:
        _run_marker = None


def pytest_unconfigure(config):
    if _run_marker is not None:
        _run_marker.unlink(missing_ok=True)


def other_test_runs_alive() -> bool:
    try:
        entries = list(_RUNS_DIR.iterdir())
    except OSError:
        return False
    for e in entries:
        if not e.name.isdigit() or int(e.name) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{e.name}/cmdline").read_bytes()
        except OSError:
            cmd = b""
        if b"pytest" in cmd or b"py.test" in cmd:
            return True
        e.unlink(missing_ok=True)  # a run that died without unregistering (or a reused pid)
    return False


def remove_test_containers(client, since: float | None = None, everything: bool = False) -> int:
    """Remove containers of this run from the engine of docker.DockerClient `client`:

    * labelled gitkube.io/test-run=RUN_ID, always;
    * when `since` (unix time) is given: created at/after it and carrying a gitkube.io/ label
      (gitkube's own containers) -- unless another test run is alive on this machine, or the container
      is labelled as another run's; with `everything`, any container created since then (engines that
      belong to this run alone, like the netns hosts).
    Returns how many were removed."""
    global _warned_shared
    broad = since is not None and (everything or not other_test_runs_alive())
    if since is not None and not broad and not _warned_shared:
        _warned_shared = True
        print("\ntestbed: another test run is alive on this machine: cleanup limited to "
              f"{LABEL_TEST_RUN}={RUN_ID}", file=sys.stderr)
    removed = 0
    for c in client.api.containers(all=True):
        labels = c.get("Labels") or {}
        run = labels.get(LABEL_TEST_RUN)
        ours = run == RUN_ID
        if not ours and broad and run is None and c.get("Created", 0) >= int(since) - 1:
            ours = everything or any(k.startswith(GITKUBE_LABEL_PREFIX) for k in labels)
        if ours:
            try:
                client.api.remove_container(c["Id"], force=True, v=True)
                removed += 1
            except Exception:  # already gone / being removed
                pass
    return removed


def _local_client_if_any():
    url = os.environ.get("GITKUBE_TEST_DOCKER_HOST", DEFAULT_DOCKER_HOST)
    if url in _engines:
        return _engines[url]
    try:
        import docker

        c = docker.DockerClient(base_url=url, timeout=30)
        c.ping()
    except Exception:
        return None
    _engines[url] = c
    return c


@pytest.fixture(autouse=True)
def _testbed_cleanup(request):
    names = set(request.fixturenames)
    touched = names & set(_FIXTURE_MARKERS)
    if not touched:
        yield
        return
    start = time.time()
    yield
    if touched & {"docker_engine", "ssh_host"}:
        c = _local_client_if_any()
        if c is not None:
            try:
                remove_test_containers(c, since=start)
            except Exception as e:  # noqa: BLE001
                print(f"testbed: cleanup on the local engine failed: {e}", file=sys.stderr)
    if "multihost" in touched and _multihost is not None:
        try:
            _multihost.reset()
        except Exception as e:  # noqa: BLE001 -- report, the next test will fail clearly anyway
            print(f"testbed: resetting netns hosts failed: {e}", file=sys.stderr)
        for h in _multihost:
            try:
                c = h.client()
                try:
                    remove_test_containers(c, since=start, everything=True)
                finally:
                    c.close()
            except Exception as e:  # noqa: BLE001
                print(f"testbed: cleanup on {h.name} failed: {e}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def test_run_id() -> str:
    return RUN_ID


@pytest.fixture
def test_labels() -> dict[str, str]:
    """Put these labels on anything a test creates by hand; the cleanup removes it."""
    return {LABEL_TEST_RUN: RUN_ID}


@pytest.fixture(scope="session")
def docker_engine():
    try:
        import docker
    except ImportError:
        missing("the docker SDK is not installed (pip install -e '.[test]')")
    url = os.environ.get("GITKUBE_TEST_DOCKER_HOST", DEFAULT_DOCKER_HOST)
    session_start = time.time()
    try:
        client = docker.DockerClient(base_url=url, timeout=60)
        client.ping()
    except Exception as e:  # noqa: BLE001
        missing(f"no Docker engine answers at {url} ({type(e).__name__}: {e}); "
                "run the tests with scripts/test, which starts dockerd")
    from testbed.images import ensure_test_image

    ensure_test_image(client, TEST_IMAGE)
    _engines[url] = client
    yield client
    remove_test_containers(client, since=session_start)


@pytest.fixture(scope="session")
def ssh_host():
    from testbed.sshd import SshEndpoint, SshFiles, start_sshd, stop_sshd

    ep = SshEndpoint.from_env()
    if ep is not None:
        if not ep.alive():
            missing(f"the test sshd {ep.host}:{ep.port} (GITKUBE_TEST_SSH_*) does not answer")
        yield ep
        return
    if not (shutil.which("sshd") or os.path.exists("/usr/sbin/sshd")):
        missing("sshd is not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        missing("the test sshd must be started as root")
    files = SshFiles.ensure(testbed_dir() / f"ssh-pytest-{os.getpid()}")
    try:
        ep = start_sshd(files, name="pytest")
    except Exception as e:  # noqa: BLE001
        missing(f"could not start the test sshd: {e}")
    yield ep
    stop_sshd(files.root / "sshd-pytest.pid")
    shutil.rmtree(files.root, ignore_errors=True)


@pytest.fixture(scope="session")
def multihost(docker_engine, ssh_host):
    global _multihost
    from testbed.netns_hosts import NetnsHosts
    from testbed.sshd import SshFiles

    if os.geteuid() != 0:
        missing("netns Docker hosts need root")
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    tools = [t for t in ("ip", "nsenter", "unshare", "iptables", "dockerd", "sshd", "runc")
             if not shutil.which(t, path=path)]
    if tools:
        missing(f"netns Docker hosts need {', '.join(tools)}")
    count = int(os.environ.get("GITKUBE_TEST_HOSTS", "2"))
    nh = NetnsHosts(count, testbed_dir(), ssh_files=SshFiles.ensure(ssh_host.ssh_dir))
    try:
        nh.up(image_source=docker_engine)
    except Exception as e:  # noqa: BLE001 -- the components are there, so this is a real failure
        pytest.fail(f"bringing up {count} netns Docker hosts failed: {e}", pytrace=False)
    _multihost = nh
    print(f"\ntestbed: {count} netns hosts up in {nh.timings.get('up', 0):.2f} s", file=sys.stderr)
    try:
        yield nh
    finally:
        _multihost = None
        nh.down()
