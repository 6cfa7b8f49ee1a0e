"""The agent's snapshots: a refresh re-reads only the kinds a controller wrote, and sees exactly
what a full snapshot would."""

from __future__ import annotations

import pytest

from gitkube.agent.controllers import SNAPSHOT_KINDS, take_snapshot, write_changes, written_kinds
from gitkube.controllers.base import Changes
from gitkube.store import open_store


def rs(name: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}


def pod(name: str, owner: dict | None = None) -> dict:
    md: dict = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path / "state.db"))
    yield s
    s.close()


def test_written_kinds_names_what_was_created_updated_deleted_or_given_a_status():
    changes = Changes(creates=[pod("a")], deletes=[("Job", "default", "j", "background")])
    changes.statuses.append(("ReplicaSet", "default", "web", {"replicas": 1}))
    assert written_kinds(changes) == {"Pod", "Job", "ReplicaSet"}
    assert written_kinds(Changes()) == set()


def test_an_orphaning_delete_may_touch_any_kind():
    assert written_kinds(Changes(deletes=[("ReplicaSet", "default", "web", "orphan")])) is None


@pytest.mark.parametrize("changes_of", [
    pytest.param(lambda owner: Changes(creates=[pod("new", owner)]), id="a create"),
    pytest.param(lambda owner: Changes(statuses=[("ReplicaSet", "default", "web", {"replicas": 7})]), id="a status"),
    pytest.param(lambda owner: Changes(deletes=[("Pod", "default", "old", "background")]), id="a delete"),
    pytest.param(lambda owner: Changes(deletes=[("ReplicaSet", "default", "web", "orphan")]), id="an orphaning delete"),
])
def test_a_refreshed_snapshot_equals_a_full_one(store, changes_of):
    owner = store.create(rs("web"))
    store.create(pod("old", owner))
    store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    before = take_snapshot(store, 0.0)
    changes = changes_of(owner)
    assert write_changes(store, changes) > 0
    refreshed = take_snapshot(store, 0.0, before, written_kinds(changes))
    full = take_snapshot(store, 0.0)
    assert set(refreshed.objects) == set(SNAPSHOT_KINDS)
    assert refreshed.objects == full.objects
