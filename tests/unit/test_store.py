"""The SQLite Store against a real state file in tmp_path: the contract of gitkube/store/base.py."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitkube.errors import AlreadyExists, Conflict, NotFound, StoreError
from gitkube.labels.selector import parse
from gitkube.store import Inventory, ObjectKey, SqliteStore, open_store, sqlite as sqlite_module, state_path
from gitkube.store import migrations


class FakeClock:
    """Wall time under test control, for lease expiry and timestamps."""

    def __init__(self, now: float = 1_767_323_045.0) -> None:  # 2026-01-02T03:04:05Z
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock):
    s = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    yield s
    s.close()


def pod(name: str = "web", *, labels: dict | None = None, node: str | None = None, owners: list | None = None,
        image: str = "nginx", namespace: str | None = None) -> dict:
    md: dict = {"name": name}
    if namespace is not None:
        md["namespace"] = namespace
    if labels is not None:
        md["labels"] = labels
    if owners is not None:
        md["ownerReferences"] = owners
    spec: dict = {"containers": [{"name": "c", "image": image}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def owner_ref(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def replicaset(name: str = "rs") -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}}}


# --- CRUD ----------------------------------------------------------------------------------------

def test_create_sets_server_metadata_and_get_returns_it(store):
    created = store.create(pod(labels={"app": "web"}))
    md = created["metadata"]
    assert md["namespace"] == "default"
    assert md["resourceVersion"] == "1" and md["generation"] == 1
    assert md["creationTimestamp"] == "2026-01-02T03:04:05Z"
    assert len(md["uid"]) == 36
    assert store.get("Pod", "default", "web") == created
    assert store.get("Pod", "default", "missing") is None


def test_get_returns_exactly_what_was_stored_in_the_same_key_order(store):
    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "cfg", "annotations": {"z": "1", "a": "2"}},
           "data": {"zeta": "1", "alpha": "2", "nested": "ü"}}
    store.create(obj)
    got = store.get("ConfigMap", "default", "cfg")
    assert list(got) == ["kind", "apiVersion", "metadata", "data"]
    assert list(got["data"]) == ["zeta", "alpha", "nested"] and got["data"]["nested"] == "ü"
    assert list(got["metadata"]["annotations"]) == ["z", "a"]


def test_create_does_not_mutate_the_callers_object(store):
    obj = pod()
    before = json.dumps(obj)
    store.create(obj)
    assert json.dumps(obj) == before


def test_create_twice_raises_already_exists_and_writes_nothing(store):
    store.create(pod())
    rev = store.revision()
    with pytest.raises(AlreadyExists, match="Pod/default/web"):
        store.create(pod())
    assert store.revision() == rev


def test_cluster_scoped_kinds_have_no_namespace(store):
    node = store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "x"}})
    assert "namespace" not in node["metadata"]
    assert store.get("Node", "", "n1") == node
    assert store.get("Node", "default", "n1") == node  # a namespace means nothing for Nodes


def test_unknown_kind_is_a_store_error(store):
    with pytest.raises(StoreError, match="unknown kind"):
        store.create({"apiVersion": "v1", "kind": "Gizmo", "metadata": {"name": "x"}})


def test_update_and_delete_of_a_missing_object_raise_not_found(store):
    with pytest.raises(NotFound):
        store.update(pod())
    with pytest.raises(NotFound):
        store.update_status("Pod", "default", "web", {"phase": "Running"})
    with pytest.raises(NotFound):
        store.delete("Pod", "default", "web")


# --- generateName -----------------------------------------------------------------------------

def test_generate_name_appends_five_characters_from_the_upstream_alphabet(store):
    created = store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "frontend-"},
                            "spec": {"containers": []}})
    name = created["metadata"]["name"]
    assert name.startswith("frontend-") and len(name) == len("frontend-") + 5
    assert set(name[-5:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert created["metadata"]["generateName"] == "frontend-"


def test_generate_name_truncates_the_base_to_58_characters(store):
    created = store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x" * 70}})
    assert len(created["metadata"]["name"]) == 63


def test_generate_name_retries_on_collision(store, monkeypatch):
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a-bbbbb"}})
    draws = iter([list("bbbbb"), list("ccccc")])
    monkeypatch.setattr(sqlite_module.random, "choices", lambda alphabet, k: next(draws))
    created = store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "a-"}})
    assert created["metadata"]["name"] == "a-ccccc"


def test_name_or_generate_name_is_required(store):
    with pytest.raises(StoreError, match="name or generateName is required"):
        store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})


# --- resourceVersion and generation ------------------------------------------------------------

def test_every_write_gets_a_higher_resource_version_equal_to_the_global_revision(store):
    seen = []
    obj = store.create(pod())
    seen.append(obj["metadata"]["resourceVersion"])
    store.create(pod("other"))
    seen.append(store.update(pod(image="nginx:2"))["metadata"]["resourceVersion"])
    running = store.update_status("Pod", "default", "web", {"phase": "Running"})
    seen.append(running["metadata"]["resourceVersion"])
    seen.append(store.delete("Pod", "default", "other") or str(store.revision()))
    assert [int(v) for v in seen] == sorted(int(v) for v in seen) and len(set(seen)) == len(seen)
    assert store.revision() == 5
    assert store.get("Pod", "default", "web")["metadata"]["resourceVersion"] == "4"


GENERATION_CASES = [
    pytest.param(lambda o: o["spec"]["containers"][0].update(image="nginx:2"), 2,
                 id="a spec change bumps generation"),
    pytest.param(lambda o: o["metadata"].update(labels={"tier": "x"}), 1, id="a label change does not"),
    pytest.param(lambda o: o["metadata"].update(annotations={"a": "b"}), 1, id="an annotation change does not"),
    pytest.param(lambda o: o.update(apiVersion="v1"), 1, id="rewriting apiVersion does not"),
]


@pytest.mark.parametrize("change, generation", GENERATION_CASES)
def test_generation_tracks_only_the_desired_state(store, change, generation):
    obj = store.create(pod())
    change(obj)
    assert store.update(obj)["metadata"]["generation"] == generation


def test_status_writes_do_not_bump_generation(store):
    store.create(pod())
    assert store.update_status("Pod", "default", "web", {"phase": "Running"})["metadata"]["generation"] == 1


def test_an_update_that_changes_nothing_writes_nothing(store):
    obj = store.create(pod())
    again = store.update(pod())
    assert again == obj and store.revision() == 1


def test_update_with_a_stale_resource_version_is_a_conflict(store):
    first = store.create(pod())
    store.update(pod(image="nginx:2"))
    first["spec"]["containers"][0]["image"] = "nginx:3"
    with pytest.raises(Conflict, match="has been modified"):
        store.update(first)
    with pytest.raises(Conflict):
        store.update_status("Pod", "default", "web", {"phase": "Running"},
                            resource_version=first["metadata"]["resourceVersion"])


def test_update_with_another_uid_is_a_conflict(store):
    obj = store.create(pod())
    obj["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(Conflict, match="uid"):
        store.update(obj)


def test_update_keeps_status_and_server_metadata(store):
    created = store.create(pod())
    store.update_status("Pod", "default", "web", {"phase": "Running"})
    forged = pod(image="nginx:2")
    forged["metadata"].update(uid="", creationTimestamp="1999-01-01T00:00:00Z", deletionTimestamp="x")
    forged["status"] = {"phase": "Failed"}
    updated = store.update(forged)
    for field in ("uid", "creationTimestamp"):
        assert updated["metadata"][field] == created["metadata"][field]
    assert "deletionTimestamp" not in updated["metadata"]
    assert updated["status"] == {"phase": "Running"}


def test_update_replaces_labels_and_the_label_index_follows(store):
    store.create(pod(labels={"app": "a"}))
    store.update(pod(labels={"app": "b"}))
    assert store.list("Pod", selector=parse("app=a")) == []
    assert [o["metadata"]["name"] for o in store.list("Pod", selector=parse("app=b"))] == ["web"]


def test_unchanged_status_is_not_written_again(store):
    store.create(pod())
    first = store.update_status("Pod", "default", "web", {"phase": "Running", "ready": True})
    second = store.update_status("Pod", "default", "web", {"ready": True, "phase": "Running"})
    assert second == first and store.revision() == 2


# --- delete -----------------------------------------------------------------------------------

def test_deleting_a_pod_bound_to_a_node_makes_it_terminating(store, clock):
    obj = pod(node="n1")
    obj["spec"]["terminationGracePeriodSeconds"] = 10
    store.create(obj)
    clock.now += 60
    after = store.delete("Pod", "default", "web")
    assert after["metadata"]["deletionTimestamp"] == "2026-01-02T03:05:05Z"
    assert after["metadata"]["deletionGracePeriodSeconds"] == 10
    assert store.get("Pod", "default", "web") == after
    assert store.delete("Pod", "default", "web", grace_period=3)["metadata"]["deletionGracePeriodSeconds"] == 3
    assert store.delete("Pod", "default", "web", grace_period=20)["metadata"]["deletionGracePeriodSeconds"] == 3
    store.remove("Pod", "default", "web")
    assert store.get("Pod", "default", "web") is None
    store.remove("Pod", "default", "web")  # removing twice is harmless


@pytest.mark.parametrize("node, grace, gone, grace_seconds", [
    pytest.param("n1", None, False, 30, id="bound pod without a grace period waits the default 30 s"),
    pytest.param("n1", 0, True, None, id="bound pod with grace period 0 is removed at once"),
    pytest.param(None, None, True, None, id="pod not bound to a node is removed at once"),
])
def test_pod_deletion(store, node, grace, gone, grace_seconds):
    store.create(pod(node=node))
    after = store.delete("Pod", "default", "web", grace_period=grace)
    assert (after is None) is gone and (store.get("Pod", "default", "web") is None) is gone
    if grace_seconds is not None:
        assert after["metadata"]["deletionGracePeriodSeconds"] == grace_seconds


@pytest.fixture
def family(store):
    """A ReplicaSet owning two pods; `shared` also has a second owner."""
    rs = store.create(replicaset())
    other = store.create(replicaset("other"))
    store.create(pod("solo", owners=[owner_ref(rs)]))
    store.create(pod("shared", owners=[owner_ref(other), owner_ref(rs)]))
    store.create(pod("stranger"))
    return rs, other


def test_orphan_strips_the_owner_from_dependents_and_removes_it(store, family):
    rs, other = family
    assert store.delete("ReplicaSet", "default", "rs", propagation="orphan") is None
    assert store.get("ReplicaSet", "default", "rs") is None
    solo = store.get("Pod", "default", "solo")
    assert "ownerReferences" not in solo["metadata"] and solo["metadata"]["generation"] == 1
    assert store.get("Pod", "default", "shared")["metadata"]["ownerReferences"] == [owner_ref(other)]
    assert "ownerReferences" not in store.get("Pod", "default", "stranger")["metadata"]


def test_orphan_is_one_transaction(store, family, monkeypatch):
    def fail(self, oid):
        raise RuntimeError("crash before the owner is removed")
    monkeypatch.setattr(SqliteStore, "_drop", fail)
    with pytest.raises(RuntimeError):
        store.delete("ReplicaSet", "default", "rs", propagation="orphan")
    assert len(store.get("Pod", "default", "solo")["metadata"]["ownerReferences"]) == 1


def test_foreground_marks_the_owner_and_leaves_dependents_to_the_collector(store, family):
    after = store.delete("ReplicaSet", "default", "rs", propagation="foreground")
    assert after["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    assert after["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert after["metadata"]["generation"] == 1
    assert store.get("ReplicaSet", "default", "rs") == after
    assert store.delete("ReplicaSet", "default", "rs", propagation="foreground") == after  # idempotent
    assert len(store.get("Pod", "default", "solo")["metadata"]["ownerReferences"]) == 1


def test_background_removes_the_owner_now_and_keeps_dependents_for_the_collector(store, family):
    assert store.delete("ReplicaSet", "default", "rs") is None
    assert store.get("ReplicaSet", "default", "rs") is None
    assert len(store.get("Pod", "default", "solo")["metadata"]["ownerReferences"]) == 1


def test_an_unknown_propagation_is_refused(store):
    store.create(pod())
    with pytest.raises(StoreError, match="invalid propagation"):
        store.delete("Pod", "default", "web", propagation="cascade")  # type: ignore[arg-type]


# --- transactions -----------------------------------------------------------------------------

def test_atomic_rolls_back_everything_on_error(store):
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.create(pod("a"))
            store.create(pod("b"))
            raise RuntimeError("boom")
    assert store.list() == [] and store.revision() == 0


def test_a_failed_step_inside_atomic_undoes_only_itself(store):
    with store.atomic():
        store.create(pod("a"))
        with pytest.raises(AlreadyExists):
            store.create(pod("a"))
        with pytest.raises(RuntimeError):
            with store.atomic():
                store.create(pod("b"))
                raise RuntimeError("inner")
        store.create(pod("c"))
    assert [o["metadata"]["name"] for o in store.list()] == ["a", "c"]
    assert store.revision() == 2


def test_a_busy_file_is_waited_for_not_reported(tmp_path, monkeypatch):
    """Even when another process holds the write lock longer than busy_timeout."""
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(sqlite_module, "GIVE_UP_AFTER_S", 10.0)
    path = str(tmp_path / "state.db")
    store = SqliteStore(path)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, blocker.execute, ("COMMIT",)).start()
    store.create(pod())
    assert store.get("Pod", "default", "web") is not None
    store.close()


def test_threads_may_share_one_store(store):
    def work(t: int) -> None:
        for i in range(25):
            with store.atomic():
                store.create(pod(f"t{t}-{i}"))
                store.update_status("Pod", "default", f"t{t}-{i}", {"phase": "Running"})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list("Pod")) == 200 and store.revision() == 400


# --- list, selectors, get_many ------------------------------------------------------------------

def test_list_filters_by_kind_and_namespace_and_sorts(store):
    store.create(pod("b", namespace="ns2"))
    store.create(pod("a", namespace="ns2"))
    store.create(pod("z"))
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}})

    def names(objs):
        return [(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs]

    assert names(store.list()) == [("ConfigMap", "default", "c"), ("Node", "", "n"), ("Pod", "default", "z"),
                                   ("Pod", "ns2", "a"), ("Pod", "ns2", "b")]
    assert names(store.list("Pod", "ns2")) == [("Pod", "ns2", "a"), ("Pod", "ns2", "b")]
    assert names(store.list(None, "default")) == [("ConfigMap", "default", "c"), ("Pod", "default", "z")]
    assert names(store.list("Node", "default")) == [("Node", "", "n")]
    assert names(store.list("Pod", "")) == [("Pod", "default", "z")]


def test_list_with_selectors(store):
    store.create(pod("a", labels={"app": "web", "tier": "front"}))
    store.create(pod("b", labels={"app": "web", "tier": "back"}))
    store.create(pod("c", labels={"app": "db"}))
    store.create(pod("d"))

    def names(sel: str) -> list[str]:
        return [o["metadata"]["name"] for o in store.list("Pod", "default", parse(sel))]

    assert names("app=web") == ["a", "b"]
    assert names("app=web,tier=back") == ["b"]
    assert names("app=web,tier!=back") == ["a"]
    assert names("app in (db)") == ["c"]
    assert names("app notin (web)") == ["c", "d"]
    assert names("!app") == ["d"]
    assert names("") == ["a", "b", "c", "d"]
    assert names("app=nope") == []


LABEL_KEYS = ["app", "tier", "env"]
LABEL_VALUES = ["a", "b", ""]
label_sets = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=3)
requirements = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES)),
    st.builds(lambda k, v: f"{k}!={v}", st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES)),
    st.builds(lambda k, vs: f"{k} in ({','.join(vs)})", st.sampled_from(LABEL_KEYS),
              st.lists(st.sampled_from(LABEL_VALUES), min_size=1, max_size=2)),
    st.builds(lambda k, vs: f"{k} notin ({','.join(vs)})", st.sampled_from(LABEL_KEYS),
              st.lists(st.sampled_from(LABEL_VALUES), min_size=1, max_size=2)),
    st.sampled_from(LABEL_KEYS),
    st.builds(lambda k: f"!{k}", st.sampled_from(LABEL_KEYS)),
)
selectors = st.lists(requirements, max_size=3).map(",".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objects=st.lists(label_sets, max_size=12), selector_strings=st.lists(selectors, min_size=1, max_size=5))
def test_label_index_answers_like_matching_in_python(tmp_path_factory, objects, selector_strings):
    store = SqliteStore(str(tmp_path_factory.mktemp("prop") / "state.db"))
    with store.atomic():
        for i, labels in enumerate(objects):
            store.create(pod(f"p{i}", labels=labels))
    everything = store.list("Pod")
    for s in selector_strings:
        sel = parse(s)
        expected = [o for o in everything if sel.matches(o["metadata"].get("labels") or {})]
        assert store.list("Pod", "default", sel) == expected, s
    store.close()


def test_get_many_returns_the_existing_objects_by_key(store):
    a = store.create(pod("a"))
    node = store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}})
    rs = store.create(replicaset())
    keys = [ObjectKey("", "Pod", "default", "a"), ObjectKey("", "Node", "", "n"),
            ObjectKey("apps", "ReplicaSet", "default", "rs"), ObjectKey("", "Pod", "default", "missing")]
    assert store.get_many(keys) == {keys[0]: a, keys[1]: node, keys[2]: rs}
    assert store.get_many([]) == {}


# --- wait_for_change ----------------------------------------------------------------------------

def test_wait_for_change_returns_at_once_when_already_newer(store):
    store.create(pod())
    start = time.monotonic()
    assert store.wait_for_change(0, 5) == 1
    assert time.monotonic() - start < 0.1


def test_wait_for_change_times_out_with_the_current_revision(store):
    start = time.monotonic()
    assert store.wait_for_change(0, 0.2) == 0
    assert 0.2 <= time.monotonic() - start < 1


def test_wait_for_change_wakes_on_a_write_through_another_connection(store, tmp_path):
    writer = SqliteStore(store.path)
    threading.Timer(0.3, writer.create, (pod(),)).start()
    start = time.monotonic()
    assert store.wait_for_change(0, 5) == 1
    assert 0.25 < time.monotonic() - start < 1.0  # woke on the write, not at the timeout
    writer.close()


def test_wait_for_change_returns_when_cancelled(store):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    start = time.monotonic()
    assert store.wait_for_change(0, 5, cancel=cancel) == 0
    assert 0.15 < time.monotonic() - start < 1.0  # the cancel, not the timeout


# --- events, inventory, leases ------------------------------------------------------------------

def test_events_are_deduplicated_by_object_reason_and_message(store, clock):
    obj = store.create(pod())
    store.record_event(obj, "Scheduled", "assigned to n1")
    clock.now += 10
    store.record_event(obj, "BackOff", "restarting", type="Warning")
    clock.now += 10
    store.record_event(obj, "Scheduled", "assigned to n1")
    events = store.events("Pod", "default", "web")
    assert [(e.reason, e.count, e.type, e.first_seen, e.last_seen) for e in events] == [
        ("BackOff", 1, "Warning", "2026-01-02T03:04:15Z", "2026-01-02T03:04:15Z"),
        ("Scheduled", 2, "Normal", "2026-01-02T03:04:05Z", "2026-01-02T03:04:25Z"),
    ]
    assert {e.uid for e in events} == {obj["metadata"]["uid"]}
    assert store.revision() == 1  # events do not wake controllers
    assert store.events("Pod", "default", "other") == []


def test_events_of_a_recreated_object_are_not_merged_with_the_old_ones(store):
    old = store.create(pod())
    store.record_event(old, "Started", "ok")
    store.delete("Pod", "default", "web")
    new = store.create(pod())
    store.record_event(new, "Started", "ok")
    assert [e.count for e in store.events("Pod", "default", "web")] == [1, 1]


def test_inventory_round_trip_and_replace(store):
    entries = {ObjectKey("", "Pod", "default", "a"), ObjectKey("apps", "Deployment", "default", "d")}
    inv = Inventory("dir:/srv/app", entries, revision="abc123", result="ok", meta={"paths": ["a.yaml"]})
    store.put_inventory(inv)
    got = store.get_inventory("dir:/srv/app")
    assert got == Inventory("dir:/srv/app", entries, revision="abc123", applied_at="2026-01-02T03:04:05Z",
                            result="ok", meta={"paths": ["a.yaml"]})
    store.put_inventory(Inventory("dir:/srv/app", set(), applied_at="2026-02-02T00:00:00Z", result="error: x"))
    store.put_inventory(Inventory("git:https://example.com/r#p"))
    assert [(i.source, i.entries, i.result) for i in store.inventories()] == [
        ("dir:/srv/app", set(), "error: x"), ("git:https://example.com/r#p", set(), "")]
    assert store.get_inventory("nope") is None


def test_a_lease_is_exclusive_until_it_expires(store, clock):
    assert store.acquire_lease("agent", "a", ttl=15)
    assert not store.acquire_lease("agent", "b", ttl=15)
    clock.now += 10
    assert store.acquire_lease("agent", "a", ttl=15)  # renewal moves the expiry
    clock.now += 10
    assert not store.acquire_lease("agent", "b", ttl=15)
    clock.now += 6
    assert store.acquire_lease("agent", "b", ttl=15)
    store.release_lease("agent", "a")  # not the holder: no effect
    assert not store.acquire_lease("agent", "a", ttl=15)
    store.release_lease("agent", "b")
    assert store.acquire_lease("agent", "a", ttl=15)


def test_a_lease_is_shared_between_connections(store, clock):
    other = SqliteStore(store.path, clock=clock)
    assert store.acquire_lease("agent", "a", ttl=15)
    assert not other.acquire_lease("agent", "b", ttl=15)
    other.close()


# --- the file -----------------------------------------------------------------------------------

def test_the_state_file_and_its_wal_are_private_to_the_owner(tmp_path):
    path = tmp_path / "deep" / "dir" / "state.db"
    old = os.umask(0o022)
    try:
        store = SqliteStore(str(path))
        store.create(pod())
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["state.db", "state.db-shm", "state.db-wal"]
        for p in path.parent.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert os.umask(0o022) == 0o022  # restored
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.close()
    finally:
        os.umask(old)


def test_migrations_are_recorded_and_reopening_is_idempotent(tmp_path):
    path = str(tmp_path / "state.db")
    SqliteStore(path).create(pod())
    again = SqliteStore(path)
    rows = again._conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert [v for v, _ in rows] == [m[0] for m in migrations.MIGRATIONS]
    assert again.get("Pod", "default", "web") is not None and again.revision() == 1
    again.close()


def test_a_state_file_from_a_newer_gitkube_is_refused(tmp_path):
    path = str(tmp_path / "state.db")
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this gitkube"):
        SqliteStore(path)


def test_an_unopenable_path_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open the state file"):
        SqliteStore(str(tmp_path / "file" / "state.db"))


@pytest.mark.parametrize("explicit, env, expected", [
    pytest.param("/x/s.db", {"GITKUBE_STATE": "/y/s.db"}, "/x/s.db", id="--state wins"),
    pytest.param(None, {"GITKUBE_STATE": "/y/s.db", "XDG_STATE_HOME": "/z"}, "/y/s.db",
                 id="then GITKUBE_STATE"),
    pytest.param(None, {"XDG_STATE_HOME": "/z", "HOME": "/h"}, "/z/gitkube/state.db", id="then XDG_STATE_HOME"),
    pytest.param(None, {"HOME": "/h"}, "/h/.local/state/gitkube/state.db", id="then ~/.local/state"),
    pytest.param(None, {"XDG_STATE_HOME": "rel", "HOME": "/h"}, "/h/.local/state/gitkube/state.db",
                 id="a relative XDG_STATE_HOME is ignored"),
])
def test_state_path(explicit, env, expected):
    assert state_path(explicit, env) == expected


def test_open_store_uses_gitkube_state(tmp_path, monkeypatch):
    monkeypatch.setenv("GITKUBE_STATE", str(tmp_path / "env.db"))
    store = open_store(None)
    assert store.path == str(tmp_path / "env.db") and (tmp_path / "env.db").exists()
    store.close()


def test_a_second_store_in_one_process_keeps_the_first_ones_locks(tmp_path):
    """Regression: re-opening the file outside SQLite dropped this process's POSIX locks, and
    another process closing its connection then deleted the live WAL under us."""
    import subprocess
    import sys

    path = str(tmp_path / "state.db")
    first = SqliteStore(path)
    first.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}})
    second = SqliteStore(path)
    code = ("from gitkube.store import SqliteStore; s = SqliteStore(%r); "
            "s.create({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'two'}}); s.close()" % path)
    subprocess.run([sys.executable, "-c", code], check=True)
    deleted = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}") and "(deleted)" in os.readlink(f"/proc/self/fd/{fd}")]
    assert not [d for d in deleted if d.startswith(path)]
    first.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "three"}})
    assert {o["metadata"]["name"] for o in second.list("ConfigMap")} == {"one", "two", "three"}
    assert {o["metadata"]["name"] for o in SqliteStore(path).list("ConfigMap")} == {"one", "two", "three"}
