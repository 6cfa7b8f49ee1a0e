"""The kubectl-like verbs (get, describe, label, scale, delete, create namespace) run through the
CLI's real entry point (`gitkube.cli.main.run`, with its error handling and exit codes) against a
real SQLite state holding examples/manifests. Calls run in-process for speed; one test runs
`python3 -m gitkube` as a separate process to prove the two agree."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "manifests"


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def gk(state: Path, *args: str) -> Result:
    """`gitkube --state STATE ARGS…` through `run()`, as the console script calls it."""
    from gitkube.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["gitkube", "--state", str(state), *args]), \
            redirect_stdout(out), redirect_stderr(err):
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def table(stdout: str) -> list[list[str]]:
    """Rows of a kubectl table, split on the 3+ space gaps the tabwriter leaves."""
    import re

    return [re.split(r"\s{3,}", line.rstrip()) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("applied") / "state.db"
    done = gk(state, "apply", "-f", str(EXAMPLES))
    assert done.returncode == 0, done.stderr
    return state


@pytest.fixture
def state(applied: Path, tmp_path: Path) -> Path:
    """A private copy of the applied state, for tests that change it."""
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(applied) + suffix)
        if src.exists():
            shutil.copy(src, tmp_path / f"state.db{suffix}")
    return tmp_path / "state.db"


KINDS = [
    pytest.param("po", ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["kubia-manual", "0/1", "Pending", "0"],
                 id="pods show READY 0/1 and Pending before the agent ran"),
    pytest.param("rc", ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["kubia-rc", "2", "0", "0"],
                 id="replication controllers show desired and current"),
    pytest.param("rs", ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["kubia", "3", "0", "0"], id="replica sets"),
    pytest.param("deploy", ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["kubia-deploy", "0/2", "0", "0"],
                 id="deployments show READY ready/desired"),
    pytest.param("ds", ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
                 ["ssd-monitor", "0", "0", "0", "0", "0", "disk=ssd"], id="daemon sets show their node selector"),
    pytest.param("job", ["NAME", "COMPLETIONS", "DURATION", "AGE"], ["batch-job", "0/5"], id="jobs show completions"),
    pytest.param("cj", ["NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
                 ["cron-job", "0,15,30,45 * * * *", "False", "0", "<none>"], id="cron jobs show the schedule"),
    pytest.param("ep", ["NAME", "ENDPOINTS", "AGE"], ["external-service", "192.0.2.10:80"],
                 id="endpoints show ip:port"),
    pytest.param("ns", ["NAME", "STATUS", "AGE"], ["staging", "Active"], id="namespaces are Active"),
    pytest.param("no", ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], ["local", "Unknown", "<none>"],
                 id="a node without a Ready condition is Unknown"),
    pytest.param("ing", ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], ["kubia", "<none>", "kubia.example.com"],
                 id="ingresses show their hosts"),
    pytest.param("secret", ["NAME", "TYPE", "DATA", "AGE"], ["kubia-credentials", "Opaque", "2"],
                 id="secrets count their keys"),
    pytest.param("cm", ["NAME", "DATA", "AGE"], ["kubia-config", "2"], id="config maps count their keys"),
]


@pytest.mark.parametrize("kind, header, row_start", KINDS)
def test_get_each_kind_prints_kubectl_columns(applied: Path, kind: str, header: list[str],
                                              row_start: list[str]) -> None:
    done = gk(applied, "get", kind)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert rows[0] == header
    assert any(row[:len(row_start)] == row_start for row in rows[1:]), done.stdout


def test_get_services_shows_headless_none_and_node_ports(applied: Path) -> None:
    rows = {r[0]: r for r in table(gk(applied, "get", "svc").stdout)[1:]}
    assert rows["kubia-headless"][1:5] == ["ClusterIP", "None", "<none>", "80/TCP"]
    assert rows["kubia-http"][1] == "NodePort" and rows["kubia-http"][4] == "80:30123/TCP"


def test_get_all_namespaces_adds_a_namespace_column(applied: Path) -> None:
    rows = table(gk(applied, "get", "pods", "-A").stdout)
    assert rows[0][:2] == ["NAMESPACE", "NAME"] and rows[1][:2] == ["default", "kubia-manual"]


def test_show_labels_adds_sorted_labels(applied: Path) -> None:
    rows = table(gk(applied, "get", "po", "--show-labels").stdout)
    assert rows[0][-1] == "LABELS" and rows[1][-1] == "app=kubia-manual,creation_method=manual"


def test_label_columns_add_one_column_per_key(applied: Path) -> None:
    done = gk(applied, "get", "po", "-L", "creation_method,app", "-L", "example.com/absent")
    rows = table(done.stdout)
    assert rows[0][-3:] == ["CREATION_METHOD", "APP", "ABSENT"]
    assert rows[1][-2:] == ["manual", "kubia-manual"]


@pytest.mark.parametrize("selector, names", [
    pytest.param("creation_method=manual", ["kubia-manual"], id="an equality selector matches"),
    pytest.param("app in (kubia-manual,other),creation_method", ["kubia-manual"], id="a set-based selector matches"),
    pytest.param("creation_method!=manual", [], id="a not-equal selector can match nothing"),
])
def test_get_with_a_valid_selector(applied: Path, selector: str, names: list[str]) -> None:
    done = gk(applied, "get", "po", "-l", selector)
    assert done.returncode == 0
    assert [r[0] for r in table(done.stdout)[1:]] == names
    if not names:
        assert done.stderr == "No resources found in default namespace.\n"


@pytest.mark.parametrize("selector", [
    pytest.param("app in (a", id="an unclosed set"),
    pytest.param("x=$y", id="an invalid value"),
    pytest.param("a,,b", id="a double comma"),
])
def test_get_with_an_invalid_selector_fails_with_one_line(applied: Path, selector: str) -> None:
    done = gk(applied, "get", "po", "-l", selector)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "selector" in done.stderr and "Traceback" not in done.stderr


def test_output_yaml_of_one_object_is_that_object(applied: Path) -> None:
    done = gk(applied, "get", "po", "kubia-manual", "-o", "yaml")
    assert done.returncode == 0
    assert "kind: Pod\n" in done.stdout and "  name: kubia-manual\n" in done.stdout


def test_output_json_of_a_listing_is_a_list(applied: Path) -> None:
    doc = json.loads(gk(applied, "get", "deploy", "-o", "json").stdout)
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    assert [o["metadata"]["name"] for o in doc["items"]] == ["kubia-deploy"]


def test_output_name_prints_resource_slash_name(applied: Path) -> None:
    assert gk(applied, "get", "deploy,svc", "-o", "name").stdout.splitlines() == [
        "deployment.apps/kubia-deploy", "service/external-service", "service/kubia-headless", "service/kubia-http"]


def test_show_labels_with_a_non_table_output_is_refused(applied: Path) -> None:
    done = gk(applied, "get", "po", "--show-labels", "-o", "json")
    assert done.returncode == 2
    assert done.stderr == "error: --show-labels option cannot be used with json printer\n"


def test_get_unknown_name_reports_not_found_and_still_prints_the_others(applied: Path) -> None:
    done = gk(applied, "get", "po", "kubia-manual", "nope")
    assert done.returncode == 1
    assert [r[0] for r in table(done.stdout)[1:]] == ["kubia-manual"]
    assert done.stderr == 'Error from server (NotFound): pods "nope" not found\n'


def test_get_unknown_kind_is_a_usage_error(applied: Path) -> None:
    done = gk(applied, "get", "flux-capacitors")
    assert done.returncode == 2
    assert done.stderr == 'error: the server doesn\'t have a resource type "flux-capacitors"\n'


def test_get_empty_namespace_says_no_resources(applied: Path) -> None:
    done = gk(applied, "get", "po", "-n", "staging")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "No resources found in staging namespace.\n")


def test_describe_service_shows_ports_and_endpoints(applied: Path) -> None:
    done = gk(applied, "describe", "svc", "kubia-http")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Name:", "kubia-http"]
    assert any(line.split() == ["NodePort:", "http", "30123/TCP"] for line in lines)
    assert any(line.split() == ["Session", "Affinity:", "ClientIP"] for line in lines)
    assert lines[-1].split() == ["Events:", "<none>"]


def test_describe_pod_shows_containers_and_probes(applied: Path) -> None:
    out = gk(applied, "describe", "po", "kubia-manual").stdout
    assert "creation_method=manual" in out
    assert "http-get http://:http/ delay=0s timeout=1s period=2s #success=1 #failure=3" in out


def test_describe_missing_object_is_not_found(applied: Path) -> None:
    done = gk(applied, "describe", "deploy", "nope")
    assert done.returncode == 1
    assert done.stderr == 'Error from server (NotFound): deployments.apps "nope" not found\n'


def labels_of(state: Path, kind: str, name: str) -> dict:
    return json.loads(gk(state, "get", kind, name, "-o", "json").stdout)["metadata"].get("labels", {})


def test_label_add_overwrite_and_remove(state: Path) -> None:
    done = gk(state, "label", "po", "kubia-manual", "app=other")
    assert done.returncode == 1
    assert done.stderr == "error: 'app' already has a value (kubia-manual), and --overwrite is false\n"
    assert gk(state, "label", "po", "kubia-manual", "app=other", "--overwrite").stdout == "pod/kubia-manual labeled\n"
    assert gk(state, "label", "po", "kubia-manual", "creation_method-").stdout == "pod/kubia-manual unlabeled\n"
    assert gk(state, "label", "po", "kubia-manual", "app=other").stdout == "pod/kubia-manual not labeled\n"
    assert labels_of(state, "po", "kubia-manual") == {"app": "other"}


def test_label_a_node(state: Path) -> None:
    assert gk(state, "label", "node", "local", "zone=a").stdout == "node/local labeled\n"
    assert labels_of(state, "no", "local") == {"disk": "ssd", "zone": "a"}


@pytest.mark.parametrize("change, message", [
    pytest.param("Bad Key=x", 'invalid label key: "Bad Key=x"', id="an invalid key"),
    pytest.param("k=-bad", 'invalid label value: "k=-bad"', id="an invalid value"),
    pytest.param("k=v=w", "invalid label spec: k=v=w", id="two equals signs"),
])
def test_label_rejects_invalid_labels(state: Path, change: str, message: str) -> None:
    done = gk(state, "label", "po", "kubia-manual", change)
    assert done.returncode == 2 and done.stderr.startswith("error: " + message)


def test_scale_sets_replicas_and_checks_the_precondition(state: Path) -> None:
    assert gk(state, "scale", "rs", "kubia", "--replicas=5").stdout == "replicaset.apps/kubia scaled\n"
    assert table(gk(state, "get", "rs", "kubia").stdout)[1][1] == "5"
    done = gk(state, "scale", "rs", "kubia", "--replicas=1", "--current-replicas=3")
    assert (done.returncode, done.stderr) == (1, "error: Expected replicas to be 3, was 5\n")
    done = gk(state, "scale", "deploy", "kubia-deploy", "--replicas", "0")
    assert done.stdout == "deployment.apps/kubia-deploy scaled\n"
    assert gk(state, "scale", "job", "batch-job", "--replicas=3").stdout == "job.batch/batch-job scaled\n"
    assert json.loads(gk(state, "get", "job", "batch-job", "-o", "json").stdout)["spec"]["parallelism"] == 3


def test_scale_refuses_a_kind_without_replicas(state: Path) -> None:
    done = gk(state, "scale", "po", "kubia-manual", "--replicas=2")
    assert done.returncode == 2 and "cannot be scaled" in done.stderr


def test_delete_by_name_then_not_found(state: Path) -> None:
    assert gk(state, "delete", "po", "kubia-manual").stdout == 'pod "kubia-manual" deleted\n'
    done = gk(state, "delete", "po", "kubia-manual")
    assert (done.returncode, done.stderr) == (1, 'Error from server (NotFound): pods "kubia-manual" not found\n')
    assert gk(state, "delete", "po", "kubia-manual", "--ignore-not-found").returncode == 0


def test_delete_by_selector(state: Path) -> None:
    done = gk(state, "delete", "svc", "-l", "!missing")
    assert done.stdout.splitlines() == ['service "external-service" deleted', 'service "kubia-headless" deleted',
                                        'service "kubia-http" deleted']
    assert gk(state, "delete", "svc", "-l", "app=nothing").stdout == "No resources found\n"


def test_delete_from_manifests(state: Path) -> None:
    done = gk(state, "delete", "-f", str(EXAMPLES / "51-configmap.yaml"), "-f", str(EXAMPLES / "30-job.yaml"))
    assert done.stdout.splitlines() == ['configmap "kubia-config" deleted', 'job.batch "batch-job" deleted']


def test_delete_from_manifests_filtered_by_selector(state: Path) -> None:
    done = gk(state, "delete", "-f", str(EXAMPLES), "-l", "creation_method=manual")
    assert done.stdout == 'pod "kubia-manual" deleted\n'


def own(state: Path, owner_kind: str, owner: str, pod: str) -> None:
    """Make the example pod a dependent of `owner` (what a controller would have done)."""
    from gitkube.store import open_store

    store = open_store(str(state))
    uid = store.get(owner_kind, "default", owner)["metadata"]["uid"]
    obj = store.get("Pod", "default", pod)
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner, "uid": uid,
                                           "controller": True, "blockOwnerDeletion": True}]
    store.update(obj)
    store.close()


def test_cascade_orphan_leaves_dependents_unowned(state: Path) -> None:
    own(state, "ReplicaSet", "kubia", "kubia-manual")
    assert gk(state, "delete", "rs", "kubia", "--cascade=orphan").stdout == 'replicaset.apps "kubia" deleted\n'
    pod = json.loads(gk(state, "get", "po", "kubia-manual", "-o", "json").stdout)
    assert "ownerReferences" not in pod["metadata"]


def test_cascade_false_is_orphan_with_a_deprecation_warning(state: Path) -> None:
    own(state, "ReplicaSet", "kubia", "kubia-manual")
    done = gk(state, "delete", "rs", "kubia", "--cascade=false")
    assert done.stderr == ("warning: --cascade=false is deprecated (boolean value) and can be replaced with "
                           "--cascade=orphan.\n")
    assert gk(state, "get", "po", "kubia-manual").returncode == 0


def test_cascade_foreground_keeps_the_owner_until_dependents_are_gone(state: Path) -> None:
    assert gk(state, "delete", "deploy", "kubia-deploy", "--cascade=foreground").returncode == 0
    md = json.loads(gk(state, "get", "deploy", "kubia-deploy", "-o", "json").stdout)["metadata"]
    assert md["deletionTimestamp"] and "foregroundDeletion" in md["finalizers"]


@pytest.mark.parametrize("flag", [pytest.param("--cascade", id="a bare --cascade"),
                                  pytest.param("--cascade=true", id="--cascade=true"),
                                  pytest.param("--cascade=background", id="--cascade=background")])
def test_background_cascade_spellings_delete_at_once(state: Path, flag: str) -> None:
    done = gk(state, "delete", "deploy", "kubia-deploy", flag)
    assert (done.returncode, done.stderr) == (0, "")
    assert gk(state, "get", "deploy", "kubia-deploy").returncode == 1


def test_invalid_cascade_value_is_refused(state: Path) -> None:
    done = gk(state, "delete", "deploy", "kubia-deploy", "--cascade=sometimes")
    assert done.returncode == 2
    assert done.stderr == ('error: invalid cascade value (sometimes). Must be "background", "foreground", '
                           'or "orphan"\n')


def test_grace_period_on_a_bound_pod_marks_it_terminating_and_force_removes_it(state: Path) -> None:
    from gitkube.store import open_store

    store = open_store(str(state))
    obj = store.get("Pod", "default", "kubia-manual")
    obj["spec"]["nodeName"] = "local"
    store.update(obj)
    store.close()
    assert gk(state, "delete", "po", "kubia-manual", "--grace-period=7").returncode == 0
    assert table(gk(state, "get", "po").stdout)[1][2] == "Terminating"
    pod = json.loads(gk(state, "get", "po", "kubia-manual", "-o", "json").stdout)
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 7
    done = gk(state, "delete", "po", "kubia-manual", "--force")
    assert done.stdout == 'pod "kubia-manual" force deleted\n' and done.stderr.startswith("warning: Immediate deletion")
    assert gk(state, "get", "po", "kubia-manual").returncode == 1


def test_force_with_a_positive_grace_period_is_refused(state: Path) -> None:
    done = gk(state, "delete", "po", "kubia-manual", "--force", "--grace-period=5")
    assert (done.returncode, done.stderr) == (
        2, "error: --force and --grace-period greater than 0 cannot be specified together\n")


def test_create_namespace(state: Path) -> None:
    assert gk(state, "create", "namespace", "team-a").stdout == "namespace/team-a created\n"
    done = gk(state, "create", "ns", "team-a")
    assert (done.returncode, done.stderr) == (
        1, 'Error from server (AlreadyExists): namespaces "team-a" already exists\n')
    done = gk(state, "create", "namespace", "Team_A")
    assert done.returncode == 1 and done.stderr.startswith('The Namespace "Team_A" is invalid: metadata.name:')


def test_a_separate_process_prints_and_exits_the_same(applied: Path) -> None:
    cmd = [sys.executable, "-m", "gitkube", "--state", str(applied), "get", "po", "kubia-manual", "nope"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    same = gk(applied, "get", "po", "kubia-manual", "nope")
    assert (done.returncode, done.stderr) == (same.returncode, same.stderr) == (
        1, 'Error from server (NotFound): pods "nope" not found\n')
    assert [row[:-1] for row in table(done.stdout)] == [row[:-1] for row in table(same.stdout)]  # AGE may tick
