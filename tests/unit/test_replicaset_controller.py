"""ReplicaSet/ReplicationController plans: counts, adoption and release, ranking, slow start."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitkube.controllers.base import Snapshot
from gitkube.controllers.gc import GarbageCollector
from gitkube.controllers.replicaset import SLOW_START_BATCH, ReplicaSetController, deletion_order

_uid = itertools.count(1)


def rs(replicas=3, name="web", selector=None, labels=None, kind="ReplicaSet", generation=1):
    labels = labels or {"app": "web"}
    spec = {"replicas": replicas, "template": {"metadata": {"labels": labels},
                                                 "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}
    if kind == "ReplicaSet":
        spec["selector"] = selector if selector is not None else {"matchLabels": dict(labels)}
        api = "apps/v1"
    else:
        if selector is not None:
            spec["selector"] = selector
        api = "v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "default", "uid": f"rs-{name}",
                                                         "generation": generation}, "spec": spec}


def pod(name, labels=None, owner=None, phase="Running", ready=True, node="n1", created="2026-01-01T00:00:00Z",
        restarts=0, started=True, deleting=False, waiting=None):
    md = {"name": name, "namespace": "default", "uid": f"pod-{name}-{next(_uid)}", "labels": labels or {"app": "web"},
          "creationTimestamp": created}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True}]
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    state = {"waiting": {"reason": waiting}} if waiting else ({"running": {}} if started else {"waiting": {"reason": "ContainerCreating"}})
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                              "lastTransitionTime": created}],
              "containerStatuses": [{"name": "c", "restartCount": restarts, "state": state}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"nodeName": node} if node else {},
            "status": status}


def plan(owner, pods, now=0.0):
    return ReplicaSetController().sync(Snapshot(now, {owner["kind"]: [owner], "Pod": pods}))


@pytest.mark.parametrize("replicas, existing, creates, deletes", [
    (3, 0, 3, 0), (20, 0, SLOW_START_BATCH, 0), (3, 3, 0, 0), (3, 1, 2, 0), (3, 5, 0, 2), (0, 2, 0, 2),
], ids=["an empty small set creates all its pods", "an empty large set first creates one batch (slow start)",
        "a full set does nothing",
        "a set with a started pod creates all that are missing", "a set with too many pods deletes the surplus",
        "scaling to zero deletes every pod"])
def test_replica_counts(replicas, existing, creates, deletes):
    owner = rs(replicas)
    pods = [pod(f"p{i}", owner=owner) for i in range(existing)]
    changes = plan(owner, pods)
    assert len(changes.creates) == creates
    assert len(changes.deletes) == deletes


def test_created_pods_come_from_the_template_with_a_generated_name_and_owner():
    owner = rs(1)
    new = plan(owner, []).creates[0]
    assert new["metadata"]["generateName"] == "web-"
    assert new["metadata"]["labels"] == {"app": "web"}
    assert new["metadata"]["ownerReferences"][0]["uid"] == "rs-web"
    assert new["metadata"]["ownerReferences"][0]["controller"] is True
    assert new["spec"]["containers"][0]["image"] == "busybox:1.36"


def test_slow_start_waits_for_the_first_pod_to_start_and_stops_on_failing_pods():
    owner = rs(20)
    waiting = [pod(f"w{i}", owner=owner, started=False, ready=False, phase="Pending") for i in range(3)]
    changes = plan(owner, waiting)
    assert len(changes.creates) == SLOW_START_BATCH - 3  # the batch is topped up, not exceeded
    assert changes.requeue_after is not None
    full_batch = [pod(f"w{i}", owner=owner, started=False, ready=False, phase="Pending")
                  for i in range(SLOW_START_BATCH)]
    assert len(plan(owner, full_batch).creates) == 0
    failing = pod("a", owner=owner, waiting="ImagePullBackOff", ready=False, phase="Pending")
    assert len(plan(owner, [failing, pod("b", owner=owner)]).creates) == 0
    assert len(plan(owner, [pod("a", owner=owner)]).creates) == 19


def test_an_orphan_with_matching_labels_is_adopted_and_counted():
    owner = rs(1)
    orphan = pod("orphan")
    changes = plan(owner, [orphan])
    assert changes.creates == [] and changes.deletes == []
    assert changes.updates[0]["metadata"]["ownerReferences"][0]["uid"] == "rs-web"


def test_a_pod_whose_labels_stop_matching_is_released_and_replaced():
    owner = rs(2)
    kept = pod("kept", owner=owner)
    relabelled = pod("moved", labels={"app": "debug"}, owner=owner)
    changes = plan(owner, [kept, relabelled])
    assert len(changes.creates) == 1
    released = changes.updates[0]
    assert released["metadata"]["name"] == "moved" and "ownerReferences" not in released["metadata"]


def test_pods_of_another_controller_are_left_alone():
    owner, other = rs(1), rs(1, name="other")
    changes = plan(owner, [pod("theirs", owner=other)])
    assert changes.updates == [] and len(changes.creates) == 1


def test_inactive_pods_are_replaced_not_counted():
    owner = rs(2)
    pods = [pod("a", owner=owner), pod("done", owner=owner, phase="Failed"), pod("going", owner=owner, deleting=True)]
    assert len(plan(owner, pods).creates) == 1


def test_a_replication_controller_selector_defaults_to_the_template_labels():
    owner = rs(2, kind="ReplicationController")
    changes = plan(owner, [pod("a", owner=owner), pod("stray")])
    assert len(changes.updates) == 1 and changes.creates == []


def test_status_counts_replicas_ready_and_observed_generation():
    owner = rs(3, generation=4)
    pods = [pod("a", owner=owner), pod("b", owner=owner, ready=False), pod("c", owner=owner)]
    status = plan(owner, pods).statuses[0][3]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 2,
                      "observedGeneration": 4}


def test_status_is_not_rewritten_when_unchanged():
    owner = rs(1)
    p = pod("a", owner=owner)
    owner["status"] = plan(owner, [p]).statuses[0][3]
    assert plan(owner, [p]).statuses == []


@pytest.mark.parametrize("first, second", [
    (dict(node=None, phase="Pending", ready=False), dict()),
    (dict(phase="Pending", ready=False), dict()),
    (dict(ready=False), dict()),
    (dict(restarts=3), dict(restarts=0)),
    (dict(created="2026-01-02T00:00:00Z"), dict(created="2026-01-01T00:00:00Z")),
], ids=["unscheduled pods go first", "pending pods before running ones", "not ready before ready",
        "more restarts first", "newer pods first"])
def test_scale_down_ranking(first, second):
    a, b = pod("a", **first), pod("b", **second)
    assert [p["metadata"]["name"] for p in deletion_order([b, a])] == ["a", "b"]


def test_pods_doubled_up_on_a_node_are_deleted_first():
    pods = [pod("lonely", node="n1"), pod("crowd1", node="n2"), pod("crowd2", node="n2")]
    assert deletion_order(pods)[0]["metadata"]["name"].startswith("crowd")


def test_gc_deletes_objects_whose_owners_are_gone_and_finishes_foreground_deletion():
    owner = rs(1)
    orphaned = pod("left", owner=rs(1, name="gone"))
    mine = pod("mine", owner=owner)
    snap = Snapshot(0, {"ReplicaSet": [owner], "Pod": [orphaned, mine]})
    assert GarbageCollector().sync(snap).deletes == [("Pod", "default", "left", "background")]
    owner["metadata"].update(deletionTimestamp="x", finalizers=["foregroundDeletion"])
    changes = GarbageCollector().sync(Snapshot(0, {"ReplicaSet": [owner], "Pod": [mine]}))
    assert changes.deletes == [("Pod", "default", "mine", "foreground")]
    changes = GarbageCollector().sync(Snapshot(0, {"ReplicaSet": [owner], "Pod": []}))
    assert changes.deletes == [("ReplicaSet", "default", "web", "remove")]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 12), st.lists(st.booleans(), max_size=12))
def test_executing_the_plan_makes_the_next_plan_empty(replicas, existing, readiness):
    owner = rs(replicas)
    pods = [pod(f"p{i}", owner=owner, ready=readiness[i] if i < len(readiness) else True) for i in range(existing)]
    for _ in range(30):
        changes = plan(owner, pods)
        for _, _, _, status in changes.statuses:
            owner["status"] = status
        if not (changes.creates or changes.deletes or changes.updates):
            break
        doomed = {n for _, _, n, _ in changes.deletes}
        pods = [p for p in pods if p["metadata"]["name"] not in doomed]
        for i, new in enumerate(changes.creates):
            p = pod(f"new{len(pods)}-{i}", owner=owner)
            pods.append(p)
    else:
        pytest.fail("the plan did not converge")
    assert len(pods) == replicas
    assert plan(owner, pods).statuses == []
