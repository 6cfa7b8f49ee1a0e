"""Git sources, the sync pass and per-source status, against real git repositories made here and a
real in-memory SQLite store (no agent, no Docker)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitkube.errors import SourceError, UsageError
from gitkube.gitops.gitsource import Mirror, classify, git_failure, normalize_subdir, normalize_url
from gitkube.gitops.reader import check_texts, read_git
from gitkube.gitops.record import fingerprint
from gitkube.gitops.status import IN_SYNC, MISSING, OUT_OF_SYNC, collect
from gitkube.gitops.sync import SyncOptions, Syncer
from gitkube.store.sqlite import SqliteStore

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"


class GitRepo:
    """A throwaway repository with a work tree, committed to with the git CLI."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Ann Author")
        self.git("config", "user.email", "ann@example.com")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout.strip()

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def commit(self, message: str, author: str | None = None) -> str:
        self.git("add", "-A")
        extra = ["--author", author] if author else []
        self.git("commit", "-q", "-m", message, *extra)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.write("deploy/a.yaml", CM.format(name="a", value="one"))
    r.write("deploy/sub/b.yaml", CM.format(name="b", value="one"))
    r.write("README.md", "not a manifest\n")
    r.commit("first")
    return r


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def store():
    s = SqliteStore(":memory:")
    yield s
    s.close()


# --- pure pieces ----------------------------------------------------------------------------------

@pytest.mark.parametrize("stderr,kind", [
    ("fatal: Authentication failed for 'https://example.com/x.git/'", "auth"),
    ("fatal: could not read Username for 'https://example.com': terminal prompts disabled", "auth"),
    ("git@example.com: Permission denied (publickey).\nfatal: Could not read from remote repository.", "auth"),
    ("remote: HTTP Basic: Access denied\nfatal: Authentication failed", "auth"),
    ("fatal: unable to access 'https://example.com/x/': The requested URL returned error: 403", "auth"),
    ("Host key verification failed.\nfatal: Could not read from remote repository.", "auth"),
    ("fatal: repository '/nope' does not exist", "unreachable"),
    ("fatal: '/tmp/x' does not appear to be a git repository", "unreachable"),
    ("fatal: unable to access 'https://nohost.invalid/x/': Could not resolve host: nohost.invalid", "unreachable"),
    ("ssh: Could not resolve hostname nohost: Name or service not known\nfatal: Could not read from remote "
     "repository.", "unreachable"),
    ("fatal: unable to access 'https://h/x/': Failed to connect to h port 443: Connection refused", "unreachable"),
    ("remote: Repository not found.\nfatal: repository 'https://github.com/o/r/' not found", "unreachable"),
    ("fatal: the remote end hung up unexpectedly", "other"),
], ids=lambda v: v if v in ("auth", "unreachable", "other") else "")
def test_git_stderr_is_classified(stderr, kind):
    assert classify(stderr) == kind


def test_a_git_failure_is_one_line_naming_the_repository_and_the_reason():
    err = git_failure("git@h:o/r.git", "clone",
                      "Cloning into bare repository 'x'...\nssh: Could not resolve hostname h: Name or service "
                      "not known\nfatal: Could not read from remote repository.\n\nPlease make sure you have the "
                      "correct access rights\nand the repository exists.\n")
    assert str(err) == "cannot reach repository git@h:o/r.git: ssh: Could not resolve hostname h: Name or service not known"
    assert "\n" not in str(err) and err.exit_code == 2
    auth = git_failure("https://h/r", "fetch", "fatal: Authentication failed for 'https://h/r/'\n")
    assert str(auth).startswith("authentication to repository https://h/r failed: ")


@pytest.mark.parametrize("given,expected", [
    ("https://example.com/org/repo.git/", "https://example.com/org/repo.git"),
    ("git@example.com:org/repo.git", "git@example.com:org/repo.git"),
    ("ssh://git@example.com:2222/org/repo", "ssh://git@example.com:2222/org/repo"),
    ("file:///srv/git/repo", "/srv/git/repo"),
    ("/srv/git/../git/repo", "/srv/git/repo"),
], ids=["https keeps its form", "scp-like stays", "ssh url stays", "file url becomes the path",
        "a local path is made real"])
def test_urls_are_normalized_so_one_repository_has_one_id(given, expected):
    assert normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["", "-uoops", "ext::sh -c touch% /tmp/pwned"])
def test_dangerous_or_empty_repository_names_are_usage_errors(bad):
    with pytest.raises(UsageError):
        normalize_url(bad)


@pytest.mark.parametrize("given,expected", [(None, ""), (".", ""), ("/deploy/", "deploy"), ("a/./b", "a/b")])
def test_subdirs_are_normalized(given, expected):
    assert normalize_subdir(given) == expected


def test_a_subdir_may_not_leave_the_repository():
    with pytest.raises(UsageError):
        normalize_subdir("../etc")


def test_the_fingerprint_ignores_status_server_metadata_gitkube_annotations_and_pod_binding():
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    live = {**obj, "metadata": {**obj["metadata"], "uid": "u", "resourceVersion": "9", "generation": 2,
                                "annotations": {"gitkube.io/commit": "abc"}},
            "spec": {**obj["spec"], "nodeName": "local"}, "status": {"phase": "Running"}}
    assert fingerprint(obj) == fingerprint(live)
    relabeled = {**obj, "metadata": {**obj["metadata"], "labels": {"a": "2"}}}
    assert fingerprint(relabeled) != fingerprint(obj)
    rescaled = {**obj, "spec": {**obj["spec"], "containers": [{"name": "c", "image": "j"}]}}
    assert fingerprint(rescaled) != fingerprint(obj)


# --- the mirror -----------------------------------------------------------------------------------

def test_the_mirror_is_cloned_once_then_fetched_and_reads_only_committed_blobs(repo, cache):
    m = Mirror(str(repo.path), cache)
    m.update()
    first = m.resolve(None)
    assert (m.path / "HEAD").is_file() and not (m.path / ".git").exists()  # bare
    repo.write("deploy/a.yaml", CM.format(name="a", value="uncommitted"))  # never read
    repo.write("deploy/c.yaml", CM.format(name="c", value="untracked"))
    files = dict(m.read(first, "deploy"))
    short = first.sha[:7]
    assert list(files) == [f"{repo.path}@{short}:deploy/a.yaml", f"{repo.path}@{short}:deploy/sub/b.yaml"]
    assert "uncommitted" not in "".join(files.values())
    second_sha = repo.commit("second")
    m.update()  # a fetch, into the same directory
    assert m.resolve("main").sha == second_sha
    assert m.resolve(first.sha).sha == first.sha
    m.close()


def test_refs_resolve_to_branches_tags_and_shas_and_unknown_ones_are_source_errors(repo, cache):
    repo.git("tag", "-a", "v1", "-m", "release 1")  # an annotated tag peels to its commit
    first = repo.git("rev-parse", "HEAD")
    repo.write("deploy/a.yaml", CM.format(name="a", value="two"))
    repo.commit("second", author="Bob Builder <bob@example.com>")
    m = Mirror(str(repo.path), cache)
    m.update()
    assert m.resolve("v1").sha == first
    assert m.resolve(first[:10]).sha == first
    head = m.resolve("main")
    assert head.author == "Bob Builder <bob@example.com>" and head.subject == "second"
    with pytest.raises(SourceError, match="unknown ref 'nope'"):
        m.resolve("nope")
    with pytest.raises(SourceError, match="no commit with that id"):
        m.resolve("deadbeefdeadbeef")
    with pytest.raises(SourceError, match="does not exist in repository"):
        m.read(head, "missing/dir")
    m.close()


def test_a_single_file_can_be_named_with_path(repo, cache):
    loaded = read_git(str(repo.path), None, "deploy/sub/b.yaml", mirror=Mirror(str(repo.path), cache))
    assert [v.obj["metadata"]["name"] for v in loaded.checked.objects] == ["b"]
    assert loaded.source.id == f"git:{repo.path}#deploy/sub/b.yaml"


def test_diagnostics_name_the_repository_commit_and_path(repo, cache):
    repo.write("deploy/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  colour: red\n")
    sha = repo.commit("typo")
    loaded = read_git(str(repo.path), "main", "deploy", mirror=Mirror(str(repo.path), cache))
    assert not loaded.checked.ok
    d = loaded.checked.errors[0]
    assert d.file == f"{repo.path}@{sha[:7]}:deploy/a.yaml" and (d.line, d.column) == (5, 3)
    assert d.format().startswith(f"{repo.path}@{sha[:7]}:deploy/a.yaml:5:3: error[")


def test_check_texts_reports_duplicates_across_in_memory_files():
    checked = check_texts([("r@1:x.yaml", CM.format(name="a", value="1")), ("r@1:y.yaml", CM.format(name="a", value="2"))])
    assert not checked.ok and checked.files == 2


# --- one sync pass at a time ----------------------------------------------------------------------

class Log:
    def __init__(self):
        self.lines: list[tuple[str, bool]] = []

    def __call__(self, text: str, err: bool) -> None:
        self.lines.extend((ln, err) for ln in text.splitlines())

    def text(self, err: bool | None = None) -> str:
        return "\n".join(t for t, e in self.lines if err is None or e == err)


def syncer(store, repo, cache, **opts) -> tuple[Syncer, Log]:
    log = Log()
    s = Syncer(store, SyncOptions(str(repo.path), opts.pop("ref", "main"), "deploy", **opts), log,
               mirror=Mirror(str(repo.path), cache))
    return s, log


def test_a_sync_pass_applies_a_new_commit_then_rejects_a_bad_one_and_keeps_the_good_one(store, repo, cache):
    s, log = syncer(store, repo, cache, prune=True)
    assert s.step() == "applied"
    good = repo.git("rev-parse", "HEAD")
    a = store.get("ConfigMap", "default", "a")
    assert a["metadata"]["annotations"]["gitkube.io/source"] == f"git:{repo.path}#deploy"
    assert a["metadata"]["annotations"]["gitkube.io/commit"] == good
    assert s.step() == "in-sync"

    repo.write("deploy/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  key: [1\n")
    bad = repo.commit("broken yaml", author="Mallory <mal@example.com>")
    assert s.step() == "invalid"
    rejected = log.text(err=True)
    assert f'{bad[:7]} "broken yaml" by Mallory <mal@example.com>' in rejected
    assert f"{repo.path}@{bad[:7]}:deploy/a.yaml:7:" in rejected and f"{good[:7]} stays in force" in rejected
    assert store.get("ConfigMap", "default", "a")["data"] == {"key": "one"}
    inv = store.get_inventory(s.source_id)
    assert inv.revision == good and inv.meta["last_sync"]["result"] == "invalid"
    assert inv.meta["last_sync"]["commit"] == bad
    assert s.step() == "in-sync"  # the bad commit is reported once

    (repo.path / "deploy/sub/b.yaml").unlink()
    repo.write("deploy/a.yaml", CM.format(name="a", value="two"))
    fixed = repo.commit("fix, drop b")
    assert s.step() == "applied"
    assert store.get("ConfigMap", "default", "a")["data"] == {"key": "two"}
    assert store.get("ConfigMap", "default", "b") is None  # pruned
    assert store.get_inventory(s.source_id).revision == fixed


def test_drift_is_reported_once_without_self_heal_and_reverted_with_it(store, repo, cache):
    s, log = syncer(store, repo, cache)
    s.step()
    live = store.get("ConfigMap", "default", "a")
    store.update({**live, "data": {"key": "hand-edited"}})
    assert s.step() == "drift"
    assert 'configmap/a: data.key: "hand-edited" → "one"' in log.text(err=True)
    [st] = collect(store)
    assert st.drifted and {o.key.name: o.state for o in st.objects} == {"a": OUT_OF_SYNC, "b": IN_SYNC}
    n = len(log.lines)
    assert s.step() == "drift" and len(log.lines) == n  # said once

    healer, hlog = syncer(store, repo, cache, self_heal=True)
    healer.step()  # the first pass applies the commit, which reverts too
    store.delete("ConfigMap", "default", "b")
    assert healer.step() == "healed"
    assert store.get("ConfigMap", "default", "b") is not None
    [st] = collect(store)
    assert not st.drifted


def test_status_counts_missing_objects_and_reads_the_last_sync(store, repo, cache):
    s, _ = syncer(store, repo, cache)
    s.step()
    store.delete("ConfigMap", "default", "b")
    [st] = collect(store)
    assert {o.key.name: o.state for o in st.objects} == {"a": IN_SYNC, "b": MISSING}
    d = st.to_dict()
    assert d["objects"]["missing"] == 1 and d["drifted"] is True
    assert d["lastSync"]["author"] == "Ann Author <ann@example.com>" and d["path"] == "deploy"


def test_an_unknown_ref_stops_the_first_pass(store, repo, cache):
    s, _ = syncer(store, repo, cache, ref="no-such-branch")
    with pytest.raises(SourceError, match="unknown ref"):
        s.step()
    assert store.list("ConfigMap") == []


def test_after_a_restart_on_a_bad_commit_the_applied_commit_stays_in_force(store, repo, cache):
    s, _ = syncer(store, repo, cache)
    s.step()
    repo.write("deploy/a.yaml", "kind: ConfigMap\n")
    repo.commit("broken")
    again, log = syncer(store, repo, cache, self_heal=True)
    assert again.step() == "invalid"
    assert again.good is not None and "stays in force" in log.text()
    store.delete("ConfigMap", "default", "a")
    assert again.step() == "healed"  # the commit in force is maintained
