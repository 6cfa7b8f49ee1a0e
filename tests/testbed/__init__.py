"""gitkube's integration test bed: real Docker engines and real sshd's on this machine.

Pieces (each usable from Python and from the command line, ``PYTHONPATH=tests python3 -m testbed.X``):

* :mod:`testbed.images`      -- the offline test image ``gitkube.test/busybox:1`` (busybox-static, no registry).
* :mod:`testbed.sshd`        -- a private sshd on 127.0.0.1:<free port> with generated keys, plus the client
                               files (known_hosts, ssh config, a fake HOME for docker-py/paramiko).
* :mod:`testbed.netns_hosts` -- N "Docker hosts" in network namespaces (own dockerd + own sshd each) on a
                               bridge in the root namespace; engine stop/start and packet-drop helpers.
* :mod:`testbed.dockerapi`   -- a tiny stdlib Docker API client over a unix socket (ping, list, remove), used
                               where the docker SDK may not be installed (teardown paths, scripts).

``scripts/test`` starts the local engine and the local sshd and exports the ``GITKUBE_TEST_*`` variables
(see :data:`ENV_VARS`); ``tests/conftest.py`` turns them into fixtures.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The offline test image every engine of the test bed gets (see :mod:`testbed.images`).
TEST_IMAGE = "gitkube.test/busybox:1"

#: Label put on everything a test creates by hand; value = the run id (``GITKUBE_TEST_RUN_ID``).
LABEL_TEST_RUN = "gitkube.io/test-run"
#: Any container carrying a label key with this prefix and created during the run is removed by the
#: cleanup fixtures (gitkube labels its containers ``gitkube.io/pod-uid``, ``gitkube.io/pod``, ...).
GITKUBE_LABEL_PREFIX = "gitkube.io/"

#: Environment variables exported by scripts/test (and read by tests/conftest.py).
ENV_VARS = {
    "GITKUBE_TESTBED_DIR": "private working dir of the test bed (keys, logs, engine state)",
    "GITKUBE_TEST_RUN_ID": "id of this test run; value of the gitkube.io/test-run label",
    "GITKUBE_TEST_DOCKER_HOST": "URL of the local engine, e.g. unix:///var/run/docker.sock",
    "GITKUBE_TEST_SSH_HOST": "address of the private sshd (127.0.0.1)",
    "GITKUBE_TEST_SSH_PORT": "its port",
    "GITKUBE_TEST_SSH_USER": "login user (root)",
    "GITKUBE_TEST_SSH_KEY": "client private key (ed25519, no passphrase)",
    "GITKUBE_TEST_SSH_KNOWN_HOSTS": "known_hosts holding the sshd's host key ([127.0.0.1]:PORT form)",
    "GITKUBE_TEST_SSH_CONFIG": "ssh client config for `ssh -F` (BatchMode, StrictHostKeyChecking yes)",
    "GITKUBE_TEST_SSH_HOME": "a fake HOME whose .ssh/{config,known_hosts} docker-py's paramiko transport reads",
    "GITKUBE_TEST_SSH_BIN": "dir with an `ssh` wrapper (ssh -F CONFIG) to put first in PATH for use_ssh_client=True",
    "GITKUBE_TEST_SSH_DIR": "dir holding all of the above ssh files",
    "GITKUBE_TEST_SSH_DOCKER_HOST": "ssh://root@127.0.0.1:PORT -- the local engine reached through the sshd",
    "GITKUBE_TEST_SSH_PID": "pid of the private sshd",
}


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def is_ci() -> bool:
    """Under CI a missing real component is a failure, never a skip."""
    return truthy(os.environ.get("CI"))


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


# unix socket paths are limited to 107 bytes; the engines' sockets live a few levels below the
# test-bed dir (hosts/gk-hN/exec/containerd/containerd.sock.ttrpc is the longest), so keep it short.
_MAX_DIR_LEN = 48


def testbed_dir() -> Path:
    """The test bed's private working dir: $GITKUBE_TESTBED_DIR, else <repo>/.testbed (git-ignored),
    else -- when that path is too long for unix sockets below it -- /tmp/gktb-<hash of repo path>."""
    env = os.environ.get("GITKUBE_TESTBED_DIR")
    if env:
        d = Path(env)
    else:
        d = repo_root() / ".testbed"
        if len(str(d)) > _MAX_DIR_LEN:
            h = hashlib.sha256(str(repo_root()).encode()).hexdigest()[:8]
            d = Path("/tmp") / f"gktb-{h}"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d
