"""The README's main job: every example applied with --wait on the local engine becomes ready."""

from __future__ import annotations

import pytest
from clusterkit import IMAGE

pytestmark = pytest.mark.docker


def test_the_quick_start_applies_every_example_and_waits_until_ready(cluster, docker_engine):
    image = docker_engine.images.get(IMAGE)
    if "busybox:1.36" not in image.tags:  # the examples use busybox:1.36; no registry here
        image.tag("busybox", "1.36")
    r = cluster.run("apply", "-f", "examples/manifests", "--wait", "--timeout", "3m", timeout=240)
    assert "all 16 objects ready" in r.stdout, r.stdout + r.stderr
    pods = cluster.run("get", "pods", "--no-headers").stdout.splitlines()
    running = [p for p in pods if "Running" in p]
    completed = [p for p in pods if "Completed" in p]
    assert len(running) == 9 and len(completed) == 5, pods
    second = cluster.run("diff", "-f", "examples/manifests", check=False)
    assert second.returncode == 0, second.stdout
