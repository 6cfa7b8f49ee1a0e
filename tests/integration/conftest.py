"""Fixtures for integration tests that run gitkube against real engines."""

from __future__ import annotations

import pytest
from clusterkit import Cluster, containers


@pytest.fixture
def cluster(tmp_path, docker_engine, ssh_host):
    c = Cluster(tmp_path, {"GITKUBE_SSH_CONFIG": str(ssh_host.config)})
    c.cluster_id()  # create the state (and its id) before anything runs
    yield c
    c.stop_agents()
    cid = c.cluster_id()
    from gitkube.proxy.teardown import LocalRunner, local_python, teardown

    try:  # this state's iptables chains, routes and DNS records on this machine
        teardown(LocalRunner(), cid, local_python())
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"proxy teardown failed: {exc}")
    for ctr in containers(docker_engine, cid):
        try:
            docker_engine.api.remove_container(ctr["Id"], force=True, v=True)
        except Exception:
            pass
