"""The DaemonSet controller on hand-built snapshots (K8S-SEMANTICS 4.2), and a property test that
simulates nodes coming, going and changing labels while templates roll (tests/unit/sim.py)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim import T0, World, rfc3339, running_ready_status  # noqa: E402

from gitkube.controllers.base import Changes, Snapshot, is_ready  # noqa: E402
from gitkube.controllers.daemonset import DaemonSetController  # noqa: E402
from gitkube.controllers.hashing import CONTROLLER_REVISION_HASH, template_hash  # noqa: E402

NOW = T0
DS_UID = "uid-ds-agent"


# --- builders ------------------------------------------------------------------------------------

def template(image: str = "v1", node_selector: dict | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": image}]}
    if node_selector is not None:
        spec["nodeSelector"] = node_selector
    return {"metadata": {"labels": {"app": "agent"}}, "spec": spec}


def daemonset(image: str = "v1", node_selector: dict | None = None, *, strategy: dict | None = None,
              generation: int = 1, **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "default", "uid": DS_UID, "generation": generation,
                         "resourceVersion": "3", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template(image, node_selector),
                     **({"updateStrategy": strategy} if strategy else {}), **spec}}


def node(name: str, labels: dict | None = None, *, ready: bool | None = True, unschedulable: bool = False) -> dict:
    obj: dict = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"uid-{name}",
                                                                  "labels": labels or {}}}
    if unschedulable:
        obj["spec"] = {"unschedulable": True}
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return obj


def pod(node_name: str, image: str = "v1", *, ready: bool = True, name: str | None = None,
        created: str = "2026-01-01T00:01:00Z", owned: bool = True, deleting: bool = False,
        phase: str = "Running", node_selector: dict | None = None) -> dict:
    name = name or f"agent-{node_name}-{image}"
    md: dict = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "4",
                "creationTimestamp": created,
                "labels": {"app": "agent", CONTROLLER_REVISION_HASH: template_hash(template(image, node_selector))}}
    if owned:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": DS_UID,
                                  "controller": True, "blockOwnerDeletion": True}]
    if deleting:
        md["deletionTimestamp"] = rfc3339(NOW - 1)
    status = running_ready_status(NOW - 100) if ready else {"phase": "Pending"}
    status["phase"] = phase
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"nodeName": node_name}, "status": status}


def sync(*objs, now: float = NOW) -> Changes:
    snap = Snapshot(now)
    for o in objs:
        snap.objects.setdefault(o["kind"], []).append(o)
    return DaemonSetController().sync(snap)


def created_on(changes: Changes) -> list[str]:
    return sorted(p["spec"]["nodeName"] for p in changes.creates)


def deleted(changes: Changes) -> list[str]:
    return sorted(name for kind, _, name, _ in changes.deletes if kind == "Pod")


def status_of(changes: Changes) -> dict:
    ((kind, _, _, status),) = changes.statuses
    assert kind == "DaemonSet"
    return status


# --- placement -----------------------------------------------------------------------------------

PLACEMENT = [
    ("without a node selector every ready node gets a pod", None,
     [node("n1"), node("n2", {"disk": "ssd"})], ["n1", "n2"]),
    ("a node selector picks the nodes with the label", {"disk": "ssd"},
     [node("n1", {"disk": "ssd"}), node("n2", {"disk": "hdd"}), node("n3")], ["n1"]),
    ("the hostname label is implicit", {"kubernetes.io/hostname": "n2"},
     [node("n1"), node("n2")], ["n2"]),
    ("unschedulable nodes still get daemon pods", None,
     [node("n1", unschedulable=True), node("n2")], ["n1", "n2"]),
    ("a NotReady node gets no pod", None,
     [node("n1", ready=False), node("n2")], ["n2"]),
    ("a node that never reported Ready gets no pod", None,
     [node("n1", ready=None), node("n2")], ["n2"]),
    ("no nodes, no pods", None, [], []),
]


@pytest.mark.parametrize("node_selector,nodes,expected", [pytest.param(*c[1:], id=c[0]) for c in PLACEMENT])
def test_placement(node_selector, nodes, expected):
    ds = daemonset("v1", node_selector)
    changes = sync(ds, *nodes)
    assert created_on(changes) == expected
    assert not changes.deletes
    assert status_of(changes)["desiredNumberScheduled"] == len(expected)


def test_a_daemon_pod_is_bound_labelled_and_owned():
    ds = daemonset("v1", {"disk": "ssd"})
    (p,) = sync(ds, node("n1", {"disk": "ssd"})).creates
    assert p["spec"]["nodeName"] == "n1"
    assert p["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert p["metadata"]["generateName"] == "agent-"
    assert p["metadata"]["labels"] == {"app": "agent",
                                       CONTROLLER_REVISION_HASH: template_hash(template("v1", {"disk": "ssd"}))}
    assert p["metadata"]["ownerReferences"][0]["uid"] == DS_UID
    assert p["metadata"]["ownerReferences"][0]["controller"] is True


NODE_CHANGES = [
    ("a node that gains the label gets a pod", {"disk": "ssd"},
     [node("n1", {"disk": "ssd"}), node("n2", {"disk": "ssd"})], [pod("n1", node_selector={"disk": "ssd"})],
     ["n2"], []),
    ("a node that loses the label loses its pod", {"disk": "ssd"},
     [node("n1", {"disk": "ssd"}), node("n2")],
     [pod("n1", node_selector={"disk": "ssd"}), pod("n2", node_selector={"disk": "ssd"})], [],
     ["agent-n2-v1"]),
    ("a deleted node loses its pod", None,
     [node("n1")], [pod("n1"), pod("gone")], [], ["agent-gone-v1"]),
    ("a pod on a NotReady node is left alone", None,
     [node("n1", ready=False)], [pod("n1", ready=False)], [], []),
    ("extra pods on one node are deleted and the oldest kept", None,
     [node("n1")], [pod("n1", name="young", created="2026-01-01T00:05:00Z"),
                    pod("n1", name="old", created="2026-01-01T00:01:00Z"),
                    pod("n1", name="younger", created="2026-01-01T00:09:00Z")], [], ["young", "younger"]),
    ("no new pod while the old one is still terminating", None,
     [node("n1")], [pod("n1", deleting=True)], [], []),
    ("a finished pod is deleted and replaced at once", None,
     [node("n1")], [pod("n1", phase="Failed", ready=False)], ["n1"], ["agent-n1-v1"]),
    ("a pod another controller owns is not counted", None,
     [node("n1")], [{**pod("n1", name="foreign", owned=False),
                     "metadata": {**pod("n1", name="foreign", owned=False)["metadata"],
                                  "ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": "other",
                                                       "controller": True}]}}], ["n1"], []),
]


@pytest.mark.parametrize("node_selector,nodes,pods,creates,deletes", [pytest.param(*c[1:], id=c[0])
                                                                      for c in NODE_CHANGES])
def test_following_nodes(node_selector, nodes, pods, creates, deletes):
    changes = sync(daemonset("v1", node_selector), *nodes, *pods)
    assert created_on(changes) == creates
    assert deleted(changes) == deletes


def test_an_orphan_daemon_pod_is_adopted_instead_of_duplicated():
    orphan = pod("n1", owned=False)
    changes = sync(daemonset("v1"), node("n1"), orphan)
    assert not changes.creates
    (adopted,) = changes.updates
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == DS_UID


def test_a_daemonset_being_deleted_does_nothing():
    ds = daemonset("v1")
    ds["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    assert sync(ds, node("n1")).empty


# --- rolling update ------------------------------------------------------------------------------

THREE = [node("n1"), node("n2"), node("n3")]

ROLLING = [
    ("by default one old pod at a time is replaced", None,
     [pod("n1"), pod("n2"), pod("n3")], ["agent-n1-v1"]),
    ("maxUnavailable 2 replaces two at once", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}},
     [pod("n1"), pod("n2"), pod("n3")], ["agent-n1-v1", "agent-n2-v1"]),
    ("a percentage is of the desired nodes, rounded up",
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%"}},
     [pod("n1"), pod("n2"), pod("n3")], ["agent-n1-v1", "agent-n2-v1"]),
    ("maxUnavailable 0 still lets one go (fencepost)",
     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
     [pod("n1"), pod("n2"), pod("n3")], ["agent-n1-v1"]),
    ("an unready new pod uses up the budget", None,
     [pod("n1", "v2", ready=False), pod("n2"), pod("n3")], []),
    ("a node still waiting for its new pod uses up the budget", None,
     [pod("n1", deleting=True), pod("n2"), pod("n3")], []),
    ("a ready new pod frees the budget for the next node", None,
     [pod("n1", "v2"), pod("n2"), pod("n3")], ["agent-n2-v1"]),
    ("an old pod that is not ready is replaced regardless of the budget", None,
     [pod("n1", "v2", ready=False), pod("n2", ready=False), pod("n3")], ["agent-n2-v1"]),
    ("OnDelete never replaces a pod", {"type": "OnDelete"},
     [pod("n1"), pod("n2", ready=False), pod("n3")], []),
]


@pytest.mark.parametrize("strategy,pods,deletes", [pytest.param(*c[1:], id=c[0]) for c in ROLLING])
def test_rolling_update(strategy, pods, deletes):
    changes = sync(daemonset("v2", strategy=strategy), *THREE, *pods)
    assert deleted(changes) == deletes
    assert not changes.creates


def test_on_delete_puts_the_new_template_on_a_node_whose_pod_was_deleted():
    changes = sync(daemonset("v2", strategy={"type": "OnDelete"}), *THREE, pod("n1"), pod("n3"))
    (p,) = changes.creates
    assert p["spec"]["nodeName"] == "n2"
    assert p["metadata"]["labels"][CONTROLLER_REVISION_HASH] == template_hash(template("v2"))


# --- status --------------------------------------------------------------------------------------

def test_status_counts():
    nodes = [node("n1", {"d": "y"}), node("n2", {"d": "y"}), node("n3", {"d": "y"}), node("n4"),
             node("n5", {"d": "y"}, ready=False)]
    sel = {"d": "y"}
    pods = [pod("n1", "v2", node_selector=sel), pod("n2", "v1", node_selector=sel),
            pod("n3", "v2", ready=False, node_selector=sel), pod("n4", "v2", node_selector=sel),
            pod("n5", "v2", node_selector=sel)]
    changes = sync(daemonset("v2", sel, generation=3), *nodes, *pods)
    assert status_of(changes) == {
        "desiredNumberScheduled": 3,  # n1-n3; n5 is NotReady, n4 does not match
        "currentNumberScheduled": 3,
        "numberReady": 2,
        "numberAvailable": 2,
        "numberUnavailable": 1,
        "updatedNumberScheduled": 2,
        "numberMisscheduled": 1,  # n4
        "observedGeneration": 3,
    }


def test_an_unchanged_status_is_not_written_again():
    w = World()
    for n in ("n1", "n2"):
        w.add(node(n))
    w.add(daemonset("v1"))
    for _ in range(5):
        w.run(DaemonSetController())
        w.kubelet()
        w.tick()
    assert w.run(DaemonSetController()).empty


# --- simulation ----------------------------------------------------------------------------------

NODE_NAMES = ("n1", "n2", "n3", "n4", "n5")


def _matching(w: World, selector: dict | None, ready: bool) -> set[str]:
    """Names of the nodes that match `selector` and are (not) Ready, worked out independently."""
    out = set()
    for n in w.of("Node"):
        labels = {**n["metadata"].get("labels", {}), "kubernetes.io/hostname": n["metadata"]["name"]}
        conditions = (n.get("status") or {}).get("conditions", [])
        is_up = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
        if is_up == ready and all(labels.get(k) == v for k, v in (selector or {}).items()):
            out.add(n["metadata"]["name"])
    return out


def _eligible(w: World, selector: dict | None) -> set[str]:
    return _matching(w, selector, True)


def _left_alone(w: World, selector: dict | None) -> set[str]:
    return _matching(w, selector, False)


def _live(w: World) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in w.of("Pod"):
        finished = (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if not p["metadata"].get("deletionTimestamp") and not finished:
            out.setdefault(p["spec"]["nodeName"], []).append(p)
    return out


def _round(w: World, rng: random.Random, p_ready: float, p_remove: float, check=lambda: None) -> Changes:
    snap = w.snapshot()
    changes = DaemonSetController().sync(snap)
    nodes = [p["spec"]["nodeName"] for p in changes.creates]
    assert len(nodes) == len(set(nodes)), "two pods created on one node in one pass"
    live = _live(w)
    assert not any(live.get(n) for n in nodes), "a pod created on a node that still has one"
    w.apply(changes)
    check()
    w.collect_garbage()
    w.kubelet(ready=lambda p: rng.random() < p_ready, remove=lambda p: rng.random() < p_remove)
    check()
    w.tick()
    return changes


def _converge(w: World, rounds: int = 40) -> None:
    rng = random.Random(0)
    for _ in range(rounds):
        before = w.revision
        changes = _round(w, rng, 1.0, 1.0)
        if w.revision == before:
            assert changes.empty
            return
    pytest.fail(f"no convergence after {rounds} rounds")


def _set_node(w: World, name: str, labels: dict | None, ready: bool, unschedulable: bool) -> None:
    existing = w.get("Node", name)
    new = node(name, labels, ready=ready, unschedulable=unschedulable)
    if existing is None:
        w.add(new)
    else:
        new["metadata"] = {**existing["metadata"], "labels": labels or {}}
        w.update(new)
        w.set_status("Node", "", name, new["status"])


NODE_STATE = st.tuples(st.sampled_from([None, {"disk": "ssd"}, {"disk": "hdd"}]), st.booleans(), st.booleans())
DS_OPS = st.one_of(
    st.tuples(st.just("node"), st.sampled_from(NODE_NAMES), NODE_STATE),
    st.tuples(st.just("remove"), st.sampled_from(NODE_NAMES)),
    st.tuples(st.just("image"), st.sampled_from(["v1", "v2", "v3"])),
    st.tuples(st.just("rounds"), st.integers(1, 3), st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.0, 0.5, 1.0])),
)
STRATEGIES = st.one_of(
    st.just(None), st.just({"type": "OnDelete"}),
    st.builds(lambda u: {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": u}},
              st.one_of(st.integers(0, 3), st.sampled_from(["20%", "50%", "100%"]))),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.dictionaries(st.sampled_from(NODE_NAMES), NODE_STATE, max_size=5),
       selector=st.sampled_from([None, {"disk": "ssd"}]), strategy=STRATEGIES,
       ops=st.lists(DS_OPS, max_size=10), seed=st.integers(0, 2**16))
def test_daemonsets_converge_to_one_pod_per_eligible_node(nodes, selector, strategy, ops, seed):
    rng = random.Random(seed)
    w = World()
    for name, (labels, ready, unschedulable) in nodes.items():
        _set_node(w, name, labels, ready, unschedulable)
    image = "v1"
    w.add(daemonset(image, selector, strategy=strategy))
    for op in ops:
        if op[0] == "node":
            _set_node(w, op[1], *op[2])
        elif op[0] == "remove":
            w.delete("Node", "", op[1])
        elif op[0] == "image":
            image = op[1]
            w.edit("DaemonSet", "agent", lambda ds: ds["spec"]["template"]["spec"]["containers"][0].update(image=image))
        else:
            for _ in range(op[1]):
                _round(w, rng, op[2], op[3])
    _converge(w)
    eligible, alone = _eligible(w, selector), _left_alone(w, selector)
    live = _live(w)
    current = template_hash(template(image, selector))
    for n in eligible:
        assert len(live.get(n, [])) == 1, f"node {n}: {len(live.get(n, []))} pods"
        if (strategy or {}).get("type") != "OnDelete":
            assert live[n][0]["metadata"]["labels"][CONTROLLER_REVISION_HASH] == current
    for n, node_pods in live.items():
        assert n in eligible or n in alone, f"a pod left on {n}"
    (ds,) = w.of("DaemonSet")
    assert ds["status"]["desiredNumberScheduled"] == len(eligible) == ds["status"]["numberReady"]
    assert ds["status"]["numberMisscheduled"] == 0
    assert w.conflicts == 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(1, 5), max_unavailable=st.one_of(st.integers(1, 3), st.sampled_from(["20%", "50%"])),
       p_ready=st.sampled_from([0.2, 0.5, 1.0]), p_remove=st.sampled_from([0.2, 0.5, 1.0]),
       seed=st.integers(0, 2**16))
def test_a_daemonset_rollout_keeps_at_most_max_unavailable_nodes_without_a_ready_pod(count, max_unavailable,
                                                                                     p_ready, p_remove, seed):
    rng = random.Random(seed)
    w = World()
    for i in range(count):
        w.add(node(f"n{i}"))
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}}
    w.add(daemonset("v1", strategy=strategy))
    _converge(w)
    budget = max_unavailable if isinstance(max_unavailable, int) else -(-int(max_unavailable[:-1]) * count // 100)

    def check() -> None:
        live = _live(w)
        down = sum(1 for i in range(count) if not any(is_ready(p) for p in live.get(f"n{i}", [])))
        assert down <= max(budget, 1)

    w.edit("DaemonSet", "agent", lambda ds: ds["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
    for _ in range(30):
        _round(w, rng, p_ready, p_remove, check)
    _converge(w)
    assert all(p["metadata"]["labels"][CONTROLLER_REVISION_HASH] == template_hash(template("v2"))
               for node_pods in _live(w).values() for p in node_pods)
