"""`gitkube create job NAME --from=cronjob/NAME`, run through the CLI's real entry point against a real
SQLite state file."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest

from gitkube.store.sqlite import SqliteStore

CRONJOB = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "cron-job", "namespace": "default"},
    "spec": {"schedule": "0,15,30,45 * * * *", "concurrencyPolicy": "Forbid",
             "jobTemplate": {"metadata": {"labels": {"app": "cron-job"}, "annotations": {"team": "batch"}},
                             "spec": {"template": {"metadata": {"labels": {"app": "cron-job"}},
                                                   "spec": {"restartPolicy": "OnFailure",
                                                            "containers": [{"name": "main",
                                                                            "image": "busybox:1.36"}]}}}}},
}


class Result(NamedTuple):
    code: int
    stdout: str
    stderr: str


def gk(state: Path, *args: str) -> Result:
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


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    store.create(CRONJOB)
    store.create({**CRONJOB, "metadata": {"name": "nightly", "namespace": "batch"}})
    store.close()
    return path


def stored_job(state: Path, name: str, namespace: str = "default") -> dict | None:
    store = SqliteStore(str(state))
    try:
        return store.get("Job", namespace, name)
    finally:
        store.close()


def test_a_job_is_created_from_the_cronjob_template_as_kubectl_does(state: Path) -> None:
    result = gk(state, "create", "job", "run-now", "--from=cronjob/cron-job")
    assert result == Result(0, "job.batch/run-now created\n", "")
    job = stored_job(state, "run-now")
    store = SqliteStore(str(state))
    cronjob_uid = store.get("CronJob", "default", "cron-job")["metadata"]["uid"]
    store.close()
    md = job["metadata"]
    assert md["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual", "team": "batch"}
    assert md["labels"] == {"app": "cron-job"}
    assert md["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cron-job",
                                      "uid": cronjob_uid, "controller": True}]
    assert job["spec"] == CRONJOB["spec"]["jobTemplate"]["spec"]


FROM_FORMS = [
    pytest.param("cronjob/cron-job", id="the cronjob resource name is accepted"),
    pytest.param("cj/cron-job", id="the cj short name is accepted"),
    pytest.param("cronjobs.batch/cron-job", id="the group-qualified plural is accepted"),
]


@pytest.mark.parametrize("source", FROM_FORMS)
def test_from_accepts_the_ways_kubectl_names_cronjobs(state: Path, source: str) -> None:
    assert gk(state, "create", "job", "a", "--from", source).code == 0


def test_the_namespace_option_picks_the_cronjob_and_the_job_namespace(state: Path) -> None:
    result = gk(state, "create", "job", "once", "--from=cronjob/nightly", "-n", "batch")
    assert result.code == 0
    assert stored_job(state, "once", "batch") is not None and stored_job(state, "once") is None


ERRORS = [
    pytest.param(["create", "job", "x", "--from=cronjob/missing"], 1,
                 'Error from server (NotFound): cronjobs.batch "missing" not found',
                 id="a cronjob that does not exist is not found with exit 1"),
    pytest.param(["create", "job", "x", "--from=cronjob/cron-job", "-n", "other"], 1,
                 'Error from server (NotFound): cronjobs.batch "cron-job" not found',
                 id="a cronjob in another namespace is not found"),
    pytest.param(["create", "job", "x", "--from=deployment/web"], 2, "--from must name a cronjob",
                 id="a from that is not a cronjob is a usage error"),
    pytest.param(["create", "job", "x", "--from=cron-job"], 2, "--from must be cronjob/NAME",
                 id="a from without a slash is a usage error"),
    pytest.param(["create", "job", "x"], 2, "--from=cronjob/NAME is required", id="a missing from is a usage error"),
    pytest.param(["create", "job", "--from=cronjob/cron-job"], 2, "NAME is required",
                 id="a missing name is a usage error"),
    pytest.param(["create", "job", "Bad_Name", "--from=cronjob/cron-job"], 1, 'The Job "Bad_Name" is invalid',
                 id="an invalid job name is rejected"),
]


@pytest.mark.parametrize("args, code, message", ERRORS)
def test_errors_have_kubectl_messages_and_exit_codes(state: Path, args: list[str], code: int, message: str) -> None:
    result = gk(state, *args)
    assert result.code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_a_second_job_with_the_same_name_already_exists(state: Path) -> None:
    assert gk(state, "create", "job", "again", "--from=cronjob/cron-job").code == 0
    result = gk(state, "create", "job", "again", "--from=cronjob/cron-job")
    assert result.code == 1
    assert 'Error from server (AlreadyExists): jobs.batch "again" already exists' in result.stderr


def test_the_job_runs_under_the_job_controller_and_stays_out_of_the_cronjob_active_list(state: Path) -> None:
    from gitkube.agent.controllers import take_snapshot, write_changes
    from gitkube.controllers.cronjob import CronJobController
    from gitkube.controllers.job import JobController

    assert gk(state, "create", "job", "run-now", "--from=cronjob/cron-job").code == 0
    store = SqliteStore(str(state))
    try:
        from gitkube.controllers.job import parse_time

        now = parse_time(store.get("CronJob", "default", "cron-job")["metadata"]["creationTimestamp"])  # nothing due
        for controller in (CronJobController(), JobController()):
            write_changes(store, controller.sync(take_snapshot(store, now)))
        assert len(store.list("Pod", "default")) == 1
        assert not (store.get("CronJob", "default", "cron-job").get("status") or {}).get("active")
    finally:
        store.close()
