"""The Deployment controller on hand-built snapshots (K8S-SEMANTICS 4.3), and a property test that
simulates whole rollouts with the real ReplicaSet controller in tests/unit/sim.py."""

from __future__ import annotations

import copy
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim import T0, World, ready_pods, rfc3339  # noqa: E402

from gitkube.controllers.base import Changes, Snapshot, is_ready  # noqa: E402
from gitkube.controllers.deployment import (  # noqa: E402
    CHANGE_CAUSE, DESIRED_REPLICAS, MAX_REPLICAS, REVISION, DeploymentController, Params, history, scaled_value,
    template_without_hash,
)
from gitkube.controllers.hashing import (  # noqa: E402
    POD_TEMPLATE_HASH, SAFE_ALPHABET, same_template, template_hash,
)
from gitkube.controllers.replicaset import ReplicaSetController  # noqa: E402

NOW = T0
D_UID = "uid-deploy-web"


# --- builders ------------------------------------------------------------------------------------

def template(image: str = "v1") -> dict:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}}


def rolling(surge, unavailable) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def deployment(replicas: int = 3, image: str = "v1", *, strategy: dict | None = None, status: dict | None = None,
               generation: int = 1, annotations: dict | None = None, **spec) -> dict:
    md = {"name": "web", "namespace": "default", "uid": D_UID, "generation": generation, "resourceVersion": "10",
          "creationTimestamp": "2026-01-01T00:00:00Z"}
    if annotations:
        md["annotations"] = annotations
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template(image),
                    **({"strategy": strategy} if strategy else {}), **spec}}
    if status is not None:
        obj["status"] = status
    return obj


def replica_set(image: str, replicas: int, revision: int, *, owner: dict | None = None, desired: int | None = None,
                max_replicas: int | None = None, created: str | None = None, status_replicas: int | None = None,
                annotations: dict | None = None) -> dict:
    """A ReplicaSet as the controller makes them for `image` (owner None: an orphan)."""
    h = template_hash(template(image))
    name = f"web-{h}"
    ann = {REVISION: str(revision), **(annotations or {})}
    if desired is not None:
        ann[DESIRED_REPLICAS] = str(desired)
    if max_replicas is not None:
        ann[MAX_REPLICAS] = str(max_replicas)
    t = template(image)
    t["metadata"]["labels"][POD_TEMPLATE_HASH] = h
    md = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "5", "generation": 1,
          "labels": {"app": "web", POD_TEMPLATE_HASH: h}, "annotations": ann,
          "creationTimestamp": created or f"2026-01-01T00:00:{revision:02d}Z"}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                  "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": md,
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web", POD_TEMPLATE_HASH: h}},
                    "template": t}}
    if status_replicas is not None:
        obj["status"] = {"replicas": status_replicas}
    return obj


def pods(rs: dict, ready: int = 0, unready: int = 0, terminating: int = 0) -> list[dict]:
    out = []
    for i in range(ready + unready + terminating):
        name = f"{rs['metadata']['name']}-{i}"
        md = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "7",
              "labels": dict(rs["spec"]["template"]["metadata"]["labels"]),
              "creationTimestamp": "2026-01-01T00:01:00Z",
              "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                   "uid": rs["metadata"]["uid"], "controller": True}]}
        ok = i < ready
        if i >= ready + unready:
            md["deletionTimestamp"] = rfc3339(NOW - 1)
            ok = True
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ok else "False",
                                                      "lastTransitionTime": "2026-01-01T00:01:00Z"}],
                  "containerStatuses": [{"name": "c", "restartCount": 0, "state": {"running": {}}}]}
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"nodeName": "n1"}, "status": status})
    return out


def sync(*objs, now: float = NOW) -> Changes:
    snap = Snapshot(now)
    for obj in objs:
        for o in obj if isinstance(obj, list) else [obj]:
            snap.objects.setdefault(o["kind"], []).append(o)
    return DeploymentController().sync(snap)


def sizes(changes: Changes) -> dict[str, int]:
    """ReplicaSet name -> planned replicas, for every ReplicaSet the plan creates or updates."""
    return {o["metadata"]["name"]: o["spec"]["replicas"] for o in changes.creates + changes.updates
            if o["kind"] == "ReplicaSet"}


def moved(changes: Changes, *objs) -> dict[str, int]:
    """Like `sizes`, leaving out ReplicaSets whose size the plan keeps (annotation-only updates)."""
    stored = {o["metadata"]["name"]: o["spec"]["replicas"] for o in objs
              if isinstance(o, dict) and o["kind"] == "ReplicaSet"}
    return {n: r for n, r in sizes(changes).items() if stored.get(n) != r}


def name(image: str) -> str:
    return f"web-{template_hash(template(image))}"


def status_of(changes: Changes) -> dict:
    ((kind, _, _, status),) = changes.statuses
    assert kind == "Deployment"
    return status


def condition(status: dict, type_: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == type_)


# --- the template hash ---------------------------------------------------------------------------

def test_template_hash_is_short_stable_and_safe():
    h = template_hash(template("nginx:1.25"))
    assert h == template_hash(copy.deepcopy(template("nginx:1.25")))
    assert 1 <= len(h) <= 10 and set(h) <= set(SAFE_ALPHABET)
    assert h != template_hash(template("nginx:1.26"))
    assert template_hash(template("x"), 1) != template_hash(template("x"), 0)


def test_template_hash_ignores_spelled_out_defaults_and_the_hash_label():
    spelled = template("nginx:1.25")
    spelled["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    spelled["spec"]["restartPolicy"] = "Always"
    spelled["metadata"]["labels"][POD_TEMPLATE_HASH] = "whatever"
    assert template_hash(spelled) == template_hash(template("nginx:1.25"))
    assert same_template(spelled, template("nginx:1.25"))


@pytest.mark.parametrize("value,total,up,expected", [
    pytest.param(2, 10, True, 2, id="an integer is taken as is"),
    pytest.param("25%", 4, True, 1, id="25 percent of 4 is 1"),
    pytest.param("25%", 1, True, 1, id="surge rounds 25 percent of 1 up to 1"),
    pytest.param("25%", 1, False, 0, id="unavailable rounds 25 percent of 1 down to 0"),
    pytest.param("50%", 3, True, 2, id="50 percent of 3 rounds up to 2"),
    pytest.param("50%", 3, False, 1, id="50 percent of 3 rounds down to 1"),
])
def test_scaled_value(value, total, up, expected):
    assert scaled_value(value, total, up) == expected


@pytest.mark.parametrize("value", ["25", "abc%", True, None])
def test_scaled_value_rejects_what_is_neither_int_nor_percent(value):
    with pytest.raises(ValueError):
        scaled_value(value, 4, True)


@pytest.mark.parametrize("spec,surge,unavailable", [
    pytest.param({"replicas": 4}, 1, 1, id="defaults with 4 replicas: surge 1 unavailable 1"),
    pytest.param({"replicas": 1}, 1, 0, id="defaults with 1 replica: surge 1 unavailable 0"),
    pytest.param({"replicas": 1, "strategy": rolling(0, "25%")}, 0, 1,
                 id="both resolving to 0 makes unavailable 1 (fencepost)"),
    pytest.param({"replicas": 3, "strategy": rolling("100%", 5)}, 3, 3, id="unavailable is capped at replicas"),
    pytest.param({"replicas": 0}, 0, 0, id="nothing is unavailable with 0 replicas"),
    pytest.param({"replicas": 4, "strategy": {"type": "Recreate"}}, 0, 0, id="Recreate neither surges nor keeps any"),
])
def test_params_resolve_surge_and_unavailable(spec, surge, unavailable):
    from gitkube.schema.defaults import apply_defaults

    p = Params.of(apply_defaults({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}, "spec": spec})["spec"])
    assert (p.max_surge, p.max_unavailable) == (surge, unavailable)


# --- creating the ReplicaSet ---------------------------------------------------------------------

def test_a_new_deployment_creates_a_replica_set_named_after_the_template_hash():
    d = deployment(3, "v1")
    changes = sync(d)
    (rs,) = changes.creates
    h = template_hash(template("v1"))
    md = rs["metadata"]
    assert md["name"] == f"web-{h}" and md["namespace"] == "default"
    assert md["labels"] == {"app": "web", POD_TEMPLATE_HASH: h}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", POD_TEMPLATE_HASH: h}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: h}
    assert rs["spec"]["template"]["spec"] == template("v1")["spec"]
    assert rs["spec"]["replicas"] == 3
    assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": D_UID,
                                      "controller": True, "blockOwnerDeletion": True}]
    assert md["annotations"][REVISION] == "1"
    assert md["annotations"][DESIRED_REPLICAS] == "3" and md["annotations"][MAX_REPLICAS] == "4"
    assert not changes.updates and not changes.deletes
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{h} from 0 to 3") in \
        [e[1:] for e in changes.events]


def test_the_new_replica_set_gets_the_next_revision_and_the_change_cause():
    d = deployment(2, "v2", annotations={CHANGE_CAUSE: "bump to v2"})
    old1 = replica_set("v0", 0, 4, owner=d)
    old2 = replica_set("v1", 2, 7, owner=d, desired=2)
    changes = sync(d, old1, old2, pods(old2, ready=2))
    (rs,) = changes.creates
    assert rs["metadata"]["annotations"][REVISION] == "8"
    assert rs["metadata"]["annotations"][CHANGE_CAUSE] == "bump to v2"


def test_a_name_taken_by_another_replica_set_bumps_the_collision_count():
    d = deployment(1, "v1")
    squatter = replica_set("v1", 1, 1)
    squatter["metadata"]["labels"] = {"app": "other"}  # not ours, same name
    changes = sync(d, squatter)
    (rs,) = changes.creates
    assert rs["metadata"]["name"] == f"web-{template_hash(template('v1'), 1)}"
    assert status_of(changes)["collisionCount"] == 1


def test_an_orphan_replica_set_with_the_template_is_adopted_not_duplicated():
    d = deployment(3, "v1")
    orphan = replica_set("v1", 2, 1, desired=3)
    changes = sync(d, orphan, pods(orphan, ready=2))
    assert not changes.creates
    (updated,) = changes.updates  # adopted and scaled in one write
    assert updated["metadata"]["ownerReferences"][0]["uid"] == D_UID
    assert updated["spec"]["replicas"] == 3


def test_an_owned_replica_set_that_stops_matching_is_released():
    d = deployment(1, "v1")
    rs = replica_set("v0", 0, 1, owner=d)
    rs["metadata"]["labels"] = {"app": "elsewhere"}
    changes = sync(d, rs)
    released = [u for u in changes.updates if u["metadata"]["name"] == rs["metadata"]["name"]]
    assert released and "ownerReferences" not in released[0]["metadata"]
    assert any(e[2] == "Released" for e in changes.events)


@pytest.mark.parametrize("mutate,reason", [
    pytest.param(lambda d: d["metadata"].update(deletionTimestamp="2026-01-02T00:00:00Z"), None,
                 id="a deployment being deleted is left to the garbage collector"),
    pytest.param(lambda d: d["spec"].update(selector={}), "SelectingAll",
                 id="an empty selector is refused with a warning"),
    pytest.param(lambda d: d["spec"].update(strategy=rolling("lots", 1)), "InvalidSpec",
                 id="a maxSurge that is neither int nor percent is refused with a warning"),
])
def test_deployments_that_are_not_synced(mutate, reason):
    d = deployment(2)
    mutate(d)
    changes = sync(d)
    assert changes.empty
    assert [e[2] for e in changes.events] == ([reason] if reason else [])


# --- scaling -------------------------------------------------------------------------------------

@pytest.mark.parametrize("replicas,before,after", [
    pytest.param(5, 3, 5, id="scaling up a finished deployment scales its replica set up"),
    pytest.param(1, 3, 1, id="scaling down a finished deployment scales its replica set down"),
    pytest.param(0, 3, 0, id="scaling to zero scales the replica set to zero"),
])
def test_scaling_a_finished_deployment(replicas, before, after):
    d = deployment(replicas, "v1")
    rs = replica_set("v1", before, 1, owner=d, desired=before)
    changes = sync(d, rs, pods(rs, ready=before))
    assert sizes(changes) == {name("v1"): after}
    assert not changes.creates
    (updated,) = changes.updates
    assert updated["metadata"]["annotations"][DESIRED_REPLICAS] == str(replicas)


def test_scaling_mid_rollout_spreads_the_difference_in_proportion():
    # replicas 3 -> 6 while v1 has 3 and v2 has 1 (max-replicas was 3 + 1 surge = 4)
    d = deployment(6, "v2")
    old = replica_set("v1", 3, 1, owner=d, desired=3, max_replicas=4)
    new = replica_set("v2", 1, 2, owner=d, desired=3, max_replicas=4)
    changes = sync(d, old, new, pods(old, ready=3), pods(new, unready=1))
    # allowed = 6 + 2 (25% of 6, rounded up) = 8; 3 * 8/4 = 6 and 1 * 8/4 = 2
    assert sizes(changes) == {name("v1"): 6, name("v2"): 2}


def test_scaling_down_mid_rollout_takes_from_the_biggest_first():
    d = deployment(2, "v2", strategy=rolling(1, 0))
    old = replica_set("v1", 4, 1, owner=d, desired=4, max_replicas=5)
    new = replica_set("v2", 1, 2, owner=d, desired=4, max_replicas=5)
    changes = sync(d, old, new, pods(old, ready=4), pods(new, unready=1))
    planned = {name("v1"): 4, name("v2"): 1, **sizes(changes)}
    assert sum(planned.values()) == 3  # 2 + maxSurge 1
    assert planned[name("v1")] < 4


# --- RollingUpdate -------------------------------------------------------------------------------

def _surviving_ready(objs: list, planned: dict[str, int]) -> int:
    """Ready pods left once each ReplicaSet is cut to its planned size (unready pods go first)."""
    total = 0
    for o in objs:
        if isinstance(o, list) or o["kind"] != "ReplicaSet":
            continue
        rs_pods = [p for x in objs if isinstance(x, list) for p in x
                   if p["metadata"]["ownerReferences"][0]["uid"] == o["metadata"]["uid"]
                   and not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in rs_pods if is_ready(p))
        total += min(ready, planned.get(o["metadata"]["name"], o["spec"]["replicas"]))
    return total


ROLLING = [
    # (id, replicas, surge, unavailable, old (replicas, ready, unready), new (replicas, ready, unready) or None,
    #  expected sizes)
    ("the first step surges one pod and drops one old pod with the defaults", 4, "25%", "25%",
     (4, 4, 0), None, {"new": 1, "old": 3}),
    ("without surge the new set starts at zero and one old pod goes", 3, 0, 1,
     (3, 3, 0), None, {"new": 0, "old": 2}),
    ("both fenceposts at zero still let one pod go", 1, 0, "25%",
     (1, 1, 0), None, {"new": 0, "old": 0}),
    ("a 50 percent surge without unavailability keeps every old pod", 4, "50%", 0,
     (4, 4, 0), None, {"new": 2}),
    ("nothing moves while the surge pod is not ready and no pod may be unavailable", 4, 1, 0,
     (4, 4, 0), (1, 0, 1), {}),
    ("once the surge pod is ready an old pod goes", 4, 1, 0,
     (4, 4, 0), (1, 1, 0), {"old": 3}),
    ("the new set grows into the room the old set left", 4, 1, 0,
     (3, 3, 0), (1, 1, 0), {"new": 2}),
    ("unready old pods are removed before ready ones", 4, 1, 1,
     (4, 2, 2), (1, 0, 1), {"old": 3}),
    ("missing old pods are cut before ready ones", 4, 0, 1,
     (4, 2, 0), (0, 0, 0), {"old": 3}),
    ("an unready new pod holds the ready old pods back at the floor", 4, 0, 1,
     (3, 3, 0), (1, 0, 1), {}),
    ("percent unavailable lets several old pods go at once", 10, 0, "30%",
     (10, 10, 0), None, {"new": 0, "old": 7}),
    ("an old set with more pods than its size counts only its size as available", 4, 1, 1,
     (3, 4, 0), (2, 1, 1), {"old": 2}),
    ("a new set above the replicas is scaled down to them", 2, 1, 0,
     (0, 0, 0), (3, 3, 0), {"new": 2}),
]


@pytest.mark.parametrize("replicas,surge,unavailable,old,new,expected",
                         [pytest.param(*case[1:], id=case[0]) for case in ROLLING])
def test_rolling_update_steps(replicas, surge, unavailable, old, new, expected):
    d = deployment(replicas, "v2", strategy=rolling(surge, unavailable))
    old_rs = replica_set("v1", old[0], 1, owner=d, desired=replicas)
    objs: list = [d, old_rs, pods(old_rs, ready=old[1], unready=old[2])]
    if new is not None:
        new_rs = replica_set("v2", new[0], 2, owner=d, desired=replicas)
        objs += [new_rs, pods(new_rs, ready=new[1], unready=new[2])]
    changes = sync(*objs)
    got = {("new" if n == name("v2") else "old"): r for n, r in moved(changes, *objs).items()}
    if new is None:
        assert len(changes.creates) == 1
        assert got.pop("new") == expected.pop("new")
    assert got == expected
    # never planned below the availability floor
    p = Params.of(deployment(replicas, strategy=rolling(surge, unavailable))["spec"])
    floor = replicas - p.max_unavailable
    before = _surviving_ready(objs, {})
    assert _surviving_ready(objs, sizes(changes)) >= min(floor, before)


def test_old_replica_sets_are_scaled_down_oldest_first():
    d = deployment(4, "v3", strategy=rolling(0, 2))
    oldest = replica_set("v1", 2, 1, owner=d, desired=4)
    middle = replica_set("v2", 2, 2, owner=d, desired=4)
    new = replica_set("v3", 0, 3, owner=d, desired=4)
    objs = [d, oldest, middle, new, pods(oldest, ready=2), pods(middle, ready=2)]
    assert moved(sync(*objs), *objs) == {name("v1"): 0}


def test_terminating_pods_do_not_count_as_available():
    d = deployment(2, "v2", strategy=rolling(0, 1))
    old = replica_set("v1", 2, 1, owner=d, desired=2)
    new = replica_set("v2", 0, 2, owner=d, desired=2)
    # one old pod is ready, the other (ready too) is terminating: 1 available = the floor
    objs = [d, old, new, pods(old, ready=1, terminating=1)]
    changes = sync(*objs)
    assert moved(changes, *objs) == {name("v1"): 1}  # only the terminating pod's place goes
    status = status_of(changes)
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (1, 1, 1)


def test_a_template_change_in_the_middle_of_a_rollout_starts_a_third_replica_set():
    d = deployment(2, "v3", strategy=rolling(1, 0))
    old = replica_set("v1", 1, 1, owner=d, desired=2)
    mid = replica_set("v2", 2, 2, owner=d, desired=2)
    changes = sync(d, old, mid, pods(old, ready=1), pods(mid, ready=1, unready=1))
    (created,) = changes.creates
    assert created["metadata"]["name"] == name("v3") and created["metadata"]["annotations"][REVISION] == "3"
    assert created["spec"]["replicas"] == 0  # 3 pods already = replicas + maxSurge


# --- Recreate ------------------------------------------------------------------------------------

RECREATE = {"type": "Recreate"}


def test_recreate_scales_every_old_replica_set_to_zero_first():
    d = deployment(3, "v2", strategy=RECREATE)
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    changes = sync(d, old, pods(old, ready=3))
    assert sizes(changes) == {name("v1"): 0}
    assert not changes.creates


@pytest.mark.parametrize("old_pods,status_replicas", [
    pytest.param(dict(terminating=1), 0, id="recreate waits while an old pod is terminating"),
    pytest.param(dict(unready=1), 1, id="recreate waits while an old pod is still running"),
    pytest.param({}, 1, id="recreate waits while the old replica set still reports pods"),
])
def test_recreate_waits_for_old_pods_to_be_gone(old_pods, status_replicas):
    d = deployment(3, "v2", strategy=RECREATE)
    old = replica_set("v1", 0, 1, owner=d, desired=3, status_replicas=status_replicas)
    changes = sync(d, old, pods(old, **old_pods))
    assert not changes.creates and sizes(changes) == {}


def test_recreate_creates_the_new_replica_set_once_the_old_pods_are_gone():
    d = deployment(3, "v2", strategy=RECREATE)
    old = replica_set("v1", 0, 1, owner=d, desired=3, status_replicas=0)
    changes = sync(d, old)
    assert sizes(changes) == {name("v2"): 3}
    assert changes.creates[0]["metadata"]["annotations"][REVISION] == "2"


def test_recreate_ignores_finished_old_pods():
    d = deployment(1, "v2", strategy=RECREATE)
    old = replica_set("v1", 0, 1, owner=d, desired=1, status_replicas=0)
    (done,) = pods(old, unready=1)
    done["status"]["phase"] = "Succeeded"
    assert sizes(sync(d, old, [done])) == {name("v2"): 1}


# --- history, pause, undo ------------------------------------------------------------------------

def _finished(d: dict, olds: list[tuple[str, int]], image: str, revision: int) -> list:
    """Old ReplicaSets at 0 (image, revision) and a finished new one."""
    objs: list = [d]
    for img, rev in olds:
        objs.append(replica_set(img, 0, rev, owner=d, desired=d["spec"]["replicas"], status_replicas=0))
    new = replica_set(image, d["spec"]["replicas"], revision, owner=d, desired=d["spec"]["replicas"])
    return objs + [new, pods(new, ready=d["spec"]["replicas"])]


def test_history_beyond_the_limit_is_deleted_oldest_revision_first():
    d = deployment(2, "v5", revisionHistoryLimit=2)
    changes = sync(*_finished(d, [("v3", 3), ("v1", 1), ("v4", 4), ("v2", 2)], "v5", 5))
    assert sorted(changes.deletes) == sorted([("ReplicaSet", "default", name("v1"), "background"),
                                              ("ReplicaSet", "default", name("v2"), "background")])


def test_history_keeps_old_replica_sets_that_still_have_pods():
    d = deployment(1, "v3", revisionHistoryLimit=0)
    objs = _finished(d, [("v1", 1), ("v2", 2)], "v3", 3)
    lingering = next(o for o in objs if isinstance(o, dict) and o["metadata"]["name"] == name("v1"))
    objs.append(pods(lingering, terminating=1))
    changes = sync(*objs)
    assert changes.deletes == [("ReplicaSet", "default", name("v2"), "background")]


def test_history_is_not_cleaned_while_the_rollout_is_unfinished():
    d = deployment(2, "v3", revisionHistoryLimit=0, strategy=rolling(1, 0))
    old = replica_set("v1", 0, 1, owner=d, desired=2, status_replicas=0)
    mid = replica_set("v2", 2, 2, owner=d, desired=2)
    changes = sync(d, old, mid, pods(mid, ready=2))
    assert not changes.deletes


def test_a_paused_deployment_does_not_roll_out_a_new_template():
    d = deployment(3, "v2", paused=True)
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    changes = sync(d, old, pods(old, ready=3))
    assert not changes.creates and moved(changes, old) == {}
    progressing = condition(status_of(changes), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


def test_a_paused_deployment_still_scales():
    d = deployment(5, "v2", paused=True)
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    changes = sync(d, old, pods(old, ready=3))
    assert sizes(changes) == {name("v1"): 5} and not changes.creates


def test_resuming_a_deployment_rolls_out_and_says_so():
    paused = {"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused",
              "message": "Deployment is paused",
              "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    counts = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 0, "readyReplicas": 3,
              "availableReplicas": 3, "unavailableReplicas": 0}
    d = deployment(3, "v2", status={**counts, "conditions": [paused]})
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    changes = sync(d, old, pods(old, ready=3))
    assert [c["metadata"]["name"] for c in changes.creates] == [name("v2")]
    assert condition(status_of(changes), "Progressing")["reason"] == "NewReplicaSetCreated"


def test_going_back_to_an_old_template_reuses_its_replica_set_with_a_new_revision():
    counts = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
              "availableReplicas": 2, "unavailableReplicas": 0,
              "conditions": [_progressing("NewReplicaSetAvailable", 100)]}
    d = deployment(2, "v1", strategy=rolling(1, 0), status=counts)
    back = replica_set("v1", 0, 1, owner=d, desired=2, status_replicas=0)
    current = replica_set("v2", 2, 2, owner=d, desired=2)
    changes = sync(d, back, current, pods(current, ready=2))
    assert not changes.creates
    (updated,) = changes.updates
    assert updated["metadata"]["name"] == name("v1")
    assert updated["metadata"]["annotations"][REVISION] == "3"
    assert updated["spec"]["replicas"] == 1  # the surge pod
    assert condition(status_of(changes), "Progressing")["reason"] == "FoundNewReplicaSet"


def test_history_lists_owned_replica_sets_by_revision_and_undo_strips_the_hash():
    d = deployment(1, "v2")
    a, b = replica_set("v1", 0, 3, owner=d), replica_set("v2", 1, 4, owner=d)
    stranger = replica_set("v0", 0, 1)
    assert [(rev, rs["metadata"]["name"]) for rev, rs in history(d, [b, stranger, a])] == \
        [(3, name("v1")), (4, name("v2"))]
    assert template_without_hash(a) == template("v1")


# --- status and conditions -----------------------------------------------------------------------

def test_status_of_a_finished_rollout():
    d = deployment(3, "v1", generation=4)
    rs = replica_set("v1", 3, 1, owner=d, desired=3)
    status = status_of(sync(d, rs, pods(rs, ready=3)))
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 0}
    available, progressing = status["conditions"]
    assert (available["type"], available["status"], available["reason"]) == \
        ("Available", "True", "MinimumReplicasAvailable")
    assert (progressing["type"], progressing["status"], progressing["reason"]) == \
        ("Progressing", "True", "NewReplicaSetAvailable")
    assert progressing["message"] == f'ReplicaSet "{name("v1")}" has successfully progressed.'


def test_status_below_the_floor_is_not_available():
    d = deployment(4, "v1")
    rs = replica_set("v1", 4, 1, owner=d, desired=4)
    status = status_of(sync(d, rs, pods(rs, ready=2, unready=2)))
    assert condition(status, "Available")["status"] == "False"
    assert condition(status, "Available")["reason"] == "MinimumReplicasUnavailable"
    assert status["unavailableReplicas"] == 2


def test_an_unchanged_status_is_not_written_again():
    w = World()
    w.add(deployment(2, "v1"))
    rc = ReplicaSetController()
    for _ in range(10):
        w.run(DeploymentController())
        w.run(rc)
        w.kubelet()
        w.tick()
    assert sync(*w.of("Deployment"), *w.of("ReplicaSet"), *w.of("Pod"), now=w.now).empty


def _progressing(reason: str, updated_ago: float, status: str = "True") -> dict:
    return {"type": "Progressing", "status": status, "reason": reason, "message": "...",
            "lastUpdateTime": rfc3339(NOW - updated_ago), "lastTransitionTime": rfc3339(NOW - 1000)}


def test_progress_refreshes_the_update_time_and_keeps_the_transition_time():
    old_status = {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 3,
                  "availableReplicas": 3, "conditions": [_progressing("ReplicaSetUpdated", 30)]}
    d = deployment(3, "v2", strategy=rolling(1, 0), status=old_status)
    old = replica_set("v1", 2, 1, owner=d, desired=3)
    new = replica_set("v2", 2, 2, owner=d, desired=3)
    changes = sync(d, old, new, pods(old, ready=2), pods(new, ready=1, unready=1))
    p = condition(status_of(changes), "Progressing")
    assert (p["status"], p["reason"]) == ("True", "ReplicaSetUpdated")
    assert p["lastUpdateTime"] == rfc3339(NOW) and p["lastTransitionTime"] == rfc3339(NOW - 1000)
    assert changes.requeue_after == pytest.approx(601)


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded():
    stuck = {"observedGeneration": 1, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3,
             "availableReplicas": 3, "unavailableReplicas": 0, "conditions": [_progressing("ReplicaSetUpdated", 700)]}
    d = deployment(3, "v2", strategy=rolling(1, 0), status=stuck)
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    new = replica_set("v2", 1, 2, owner=d, desired=3)
    changes = sync(d, old, new, pods(old, ready=3), pods(new, unready=1))
    p = condition(status_of(changes), "Progressing")
    assert (p["status"], p["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert p["lastTransitionTime"] == rfc3339(NOW)
    assert p["message"] == f'ReplicaSet "{name("v2")}" has timed out progressing.'


def test_within_the_deadline_a_stalled_rollout_is_still_progressing():
    stuck = {"observedGeneration": 1, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3,
             "availableReplicas": 3, "unavailableReplicas": 0, "conditions": [_progressing("ReplicaSetUpdated", 100)]}
    d = deployment(3, "v2", strategy=rolling(1, 0), status=stuck)
    old = replica_set("v1", 3, 1, owner=d, desired=3)
    new = replica_set("v2", 1, 2, owner=d, desired=3)
    changes = sync(d, old, new, pods(old, ready=3), pods(new, unready=1))
    assert condition(status_of(changes), "Progressing")["reason"] == "ReplicaSetUpdated"
    assert changes.requeue_after == pytest.approx(501)


def test_min_ready_seconds_delays_availability_and_asks_to_be_woken():
    d = deployment(1, "v1", minReadySeconds=30)
    rs = replica_set("v1", 1, 1, owner=d, desired=1)
    (pod,) = pods(rs, ready=1)
    pod["status"]["conditions"][0]["lastTransitionTime"] = rfc3339(NOW - 10)
    changes = sync(d, rs, [pod])
    assert status_of(changes)["availableReplicas"] == 0 and status_of(changes)["readyReplicas"] == 1
    assert changes.requeue_after == pytest.approx(20)


# --- simulation: whole rollouts ------------------------------------------------------------------

INT_OR_PERCENT = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))


def _round(w: World, rng: random.Random, p_ready: float, p_remove: float,
           check=lambda: None) -> tuple[Changes, Changes]:
    a = w.run(DeploymentController())
    check()
    b = w.run(ReplicaSetController())
    check()
    w.collect_garbage()
    w.kubelet(ready=lambda p: rng.random() < p_ready, remove=lambda p: rng.random() < p_remove)
    check()
    w.tick()
    return a, b


def _converge(w: World, rounds: int = 60) -> None:
    """Rounds with every pod readied and every terminating pod removed, until a whole round
    (controllers and kubelet) changes nothing; the controllers' last plans were then empty."""
    rng = random.Random(0)
    for _ in range(rounds):
        before = w.revision
        a, b = _round(w, rng, 1.0, 1.0)
        if w.revision == before:
            assert a.empty and b.empty
            return
    pytest.fail(f"no convergence after {rounds} rounds: {a} {b}")


def _set_image(image: str):
    def edit(d: dict) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return edit


def _assert_converged(w: World) -> None:
    (d,) = w.of("Deployment")
    replicas = d["spec"]["replicas"]
    sets = w.of("ReplicaSet")
    current = [rs for rs in sets if same_template(rs["spec"]["template"], d["spec"]["template"])]
    assert len(current) == 1
    (new,) = current
    assert new["spec"]["replicas"] == replicas
    assert all(rs["spec"]["replicas"] == 0 for rs in sets if rs is not new)
    assert len(sets) - 1 <= d["spec"].get("revisionHistoryLimit", 10)
    live = [p for p in w.of("Pod") if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == replicas and all(is_ready(p) for p in live)
    assert all(p["metadata"]["labels"][POD_TEMPLATE_HASH] == new["metadata"]["labels"][POD_TEMPLATE_HASH]
               for p in live)
    status = d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (replicas,) * 3
    assert condition(status, "Progressing")["reason"] in ("NewReplicaSetAvailable", "FoundNewReplicaSet",
                                                          "NewReplicaSetCreated")
    revisions = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in sets)
    assert int(new["metadata"]["annotations"][REVISION]) == revisions[-1]
    assert len(set(revisions)) == len(revisions)


OPS = st.one_of(
    st.tuples(st.just("image"), st.sampled_from(["v1", "v2", "v3", "v4"])),
    st.tuples(st.just("scale"), st.integers(0, 6)),
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("rounds"), st.integers(1, 4), st.sampled_from([0.0, 0.3, 0.7, 1.0]),
              st.sampled_from([0.0, 0.5, 1.0])),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(0, 5), surge=INT_OR_PERCENT, unavailable=INT_OR_PERCENT, recreate=st.booleans(),
       history_limit=st.integers(0, 3), ops=st.lists(OPS, max_size=8), seed=st.integers(0, 2**16))
def test_deployments_converge_whatever_happens_on_the_way(replicas, surge, unavailable, recreate, history_limit,
                                                           ops, seed):
    rng = random.Random(seed)
    w = World()
    strategy = {"type": "Recreate"} if recreate else rolling(surge, unavailable)
    w.add(deployment(replicas, "v1", strategy=strategy, revisionHistoryLimit=history_limit))
    for op in ops:
        if op[0] == "image":
            w.edit("Deployment", "web", _set_image(op[1]))
        elif op[0] == "scale":
            w.edit("Deployment", "web", lambda d, n=op[1]: d["spec"].update(replicas=n))
        elif op[0] == "pause":
            w.edit("Deployment", "web", lambda d, v=op[1]: d["spec"].update(paused=v))
        else:
            for _ in range(op[1]):
                _round(w, rng, op[2], op[3])
    w.edit("Deployment", "web", lambda d: d["spec"].update(paused=False))
    _converge(w)
    _assert_converged(w)
    assert w.conflicts == 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(1, 6), surge=INT_OR_PERCENT, unavailable=INT_OR_PERCENT,
       p_ready=st.sampled_from([0.2, 0.5, 1.0]), p_remove=st.sampled_from([0.0, 0.3, 1.0]),
       second_change=st.one_of(st.none(), st.integers(0, 6)), seed=st.integers(0, 2**16))
def test_a_rolling_update_never_drops_below_replicas_minus_max_unavailable(replicas, surge, unavailable, p_ready,
                                                                           p_remove, second_change, seed):
    rng = random.Random(seed)
    w = World()
    w.add(deployment(replicas, "v1", strategy=rolling(surge, unavailable)))
    _converge(w)
    floor = replicas - Params.of(w.of("Deployment")[0]["spec"]).max_unavailable
    assert len(ready_pods(w)) == replicas

    def check() -> None:
        assert len(ready_pods(w)) >= floor

    w.edit("Deployment", "web", _set_image("v2"))
    for i in range(40):
        if i == second_change:
            w.edit("Deployment", "web", _set_image("v3"))
        _round(w, rng, p_ready, p_remove, check)
    _converge(w)
    _assert_converged(w)
