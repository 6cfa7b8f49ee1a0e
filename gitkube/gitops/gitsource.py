"""A Git repository as a source of manifests: one local mirror per URL, read at exact commits.

The mirror lives in `$XDG_CACHE_HOME/gitkube/repos/<sha256 of the URL>` (a `git clone --mirror`):
cloned on first use, fetched afterwards (under a file lock, so two gitkube processes never fetch
into the same mirror at once). Manifests are read from the commit's tree with gitpython: no work
tree exists, so nothing uncommitted or untracked can leak into what is applied.

Network operations run `git` directly with a clean environment (no prompts, no inherited GIT_DIR
of a surrounding hook, a timeout); their stderr is mapped to one-line SourceErrors:
authentication failed / repository unreachable / other.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gitkube.errors import Diagnostic, Severity, SourceError, UsageError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
SYMLINK_MODE = 0o120000
# Variables a surrounding git process (a hook, `git rebase --exec`) may have set for *its* repo.
_LOCAL_GIT_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
                   "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX", "GIT_QUARANTINE_PATH")
_FULL_SHA = re.compile(r"[0-9a-f]{40}")

_AUTH_PATTERNS = (
    "authentication failed", "could not read username", "could not read password", "terminal prompts disabled",
    "permission denied (publickey", "permission denied, please try again", "access denied",
    "invalid username or password", "http basic", "returned error: 401", "returned error: 403",
    "host key verification failed", "bad credentials", "invalid credentials",
)
_UNREACHABLE_PATTERNS = (
    "does not exist", "does not appear to be a git repository", "not a git repository",
    "could not resolve host", "could not resolve hostname", "name or service not known", "connection refused",
    "connection timed out", "timed out", "unable to access", "repository not found", "no route to host",
    "network is unreachable", "returned error: 404", "could not read from remote repository",
    "failed to connect", "no such file or directory", "connection reset",
)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str  # "Name <email>"
    date: str  # ISO 8601, the author date
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]

    def describe(self) -> str:
        """`1a2b3c4 "subject" by Name <email>`"""
        return f'{self.short} "{self.subject}" by {self.author}'


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitkube" / "repos"


def normalize_url(url: str) -> str:
    """Remote URLs as given; local paths made absolute and real, and `file://` URLs turned into
    such paths: `--repo .`, `--repo /abs/repo` and `--repo file:///abs/repo` name one repository
    (one cache entry, one source id, one inventory)."""
    url = url.strip()
    if not url:
        raise UsageError("--repo needs a URL or a path")
    if url.startswith("-"):
        raise UsageError(f"invalid repository {url!r}")
    if url.startswith("ext::"):
        raise UsageError("the ext:: transport is not allowed for --repo")
    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return url
        url = unquote(parts.path) or "/"
    elif "://" in url:
        return url.rstrip("/")
    elif re.match(r"^[^/]+:", url) and not os.path.exists(url):  # scp-like: user@host:path
        return url
    return os.path.realpath(os.path.expanduser(url))


def normalize_subdir(path: str | None) -> str:
    """`--path` inside the repository as a clean relative POSIX path; "" for the root."""
    if not path:
        return ""
    clean = posixpath.normpath(path.strip().replace("\\", "/")).lstrip("/")
    if clean in (".", ""):
        return ""
    if clean == ".." or clean.startswith("../"):
        raise UsageError(f"--path {path!r} points outside the repository")
    return clean


def git_env() -> dict[str, str]:
    """The environment of every git command: never prompt, C locale (stderr is parsed), no variables
    that point git at another repository."""
    env = {k: v for k, v in os.environ.items() if k not in _LOCAL_GIT_VARS}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C", GCM_INTERACTIVE="never")
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


def classify(stderr: str) -> str:
    """'auth', 'unreachable' or 'other', from what git printed."""
    text = stderr.lower()
    if any(p in text for p in _AUTH_PATTERNS):
        return "auth"
    if any(p in text for p in _UNREACHABLE_PATTERNS):
        return "unreachable"
    return "other"


def _detail(stderr: str) -> str:
    """The line that says what went wrong, without git's `fatal: ` prefix."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    generic = any("could not read from remote repository" in ln.lower() for ln in lines)
    if generic:  # ssh said why on the line before
        for ln in lines:
            low = ln.lower()
            if low.startswith(("ssh:", "error:", "remote:", "err ")) or "permission denied" in low \
                    or "host key" in low:
                return ln
    for prefix in ("fatal:", "error:"):
        for ln in lines:
            if ln.lower().startswith(prefix):
                return ln[len(prefix):].strip()
    return lines[-1] if lines else "no output"


def git_failure(url: str, action: str, stderr: str) -> SourceError:
    kind = classify(stderr)
    detail = _detail(stderr)
    if kind == "auth":
        return SourceError(f"authentication to repository {url} failed: {detail}")
    if kind == "unreachable":
        return SourceError(f"cannot reach repository {url}: {detail}")
    return SourceError(f"git {action} of {url} failed: {detail}")


def git_timeout() -> float:
    try:
        return float(os.environ.get("GITKUBE_GIT_TIMEOUT", "300"))
    except ValueError:
        return 300.0


class Mirror:
    """The local mirror of one repository URL."""

    def __init__(self, url: str, root: Path | None = None):
        self.url = normalize_url(url)
        self.root = root or cache_root()
        self.path = self.root / hashlib.sha256(self.url.encode()).hexdigest()[:32]
        self._repo = None  # git.Repo, opened lazily

    # --- network -------------------------------------------------------------------------------
    def update(self, ref: str | None = None) -> None:
        """Clone when missing, else fetch. A full SHA already in the mirror needs no fetch (commits
        never change)."""
        with self._locked():
            if not self._valid():
                self._clone()
                return
            if ref and _FULL_SHA.fullmatch(ref) and self._has_commit(ref):
                return
            self._run(["fetch", "--prune", "--quiet", "origin"], "fetch", cwd=self.path)

    def _clone(self) -> None:
        self.close()
        if self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)  # a broken leftover
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.root))
        try:
            self._run(["clone", "--mirror", "--quiet", "--", self.url, str(tmp)], "clone", cwd=self.root)
            os.rename(tmp, self.path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _run(self, args: list[str], action: str, cwd: Path) -> str:
        try:
            r = subprocess.run(["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True,
                               timeout=git_timeout(), stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise SourceError("git is not installed (needed for --repo)") from None
        except subprocess.TimeoutExpired:
            raise SourceError(f"cannot reach repository {self.url}: git {action} timed out after "
                              f"{git_timeout():.0f} s") from None
        if r.returncode != 0:
            raise git_failure(self.url, action, r.stderr)
        return r.stdout

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(str(self.path) + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _valid(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    # --- reading -------------------------------------------------------------------------------
    @property
    def repo(self):
        if self._repo is None:
            import git

            repo = git.Repo(str(self.path))
            # gitpython cannot unset inherited variables; pointing them at the mirror has the same effect
            repo.git.update_environment(GIT_DIR=str(self.path), GIT_OBJECT_DIRECTORY=str(self.path / "objects"),
                                        LC_ALL="C", GIT_TERMINAL_PROMPT="0")
            self._repo = repo
        return self._repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def _has_commit(self, sha: str) -> bool:
        try:
            self._rev_parse(sha)
            return True
        except Exception:
            return False

    def _rev_parse(self, ref: str) -> str:
        return self.repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()

    def resolve(self, ref: str | None) -> CommitInfo:
        """The commit a branch, tag (peeled) or SHA names; the default branch when `ref` is empty."""
        import git

        name = ref or "HEAD"
        if name.startswith("-"):
            raise UsageError(f"invalid ref {name!r}")
        try:
            sha = self._rev_parse(name)
        except git.GitCommandError:
            if ref and re.fullmatch(r"[0-9a-fA-F]{7,40}", ref):
                hint = "no commit with that id"
            else:
                hint = "no branch, tag or commit of that name"
            what = f"ref {ref!r}" if ref else "the default branch (HEAD)"
            raise SourceError(f"unknown {what} in repository {self.url}: {hint}") from None
        c = self.repo.commit(sha)
        return CommitInfo(sha, f"{c.author.name} <{c.author.email}>",
                          c.authored_datetime.isoformat(), c.summary if isinstance(c.summary, str) else c.summary.decode())

    def read(self, commit: CommitInfo, subdir: str, display: str | None = None) -> list[tuple[str, str | Diagnostic]]:
        """(name, text or Diagnostic) of every manifest file under `subdir` at `commit`, in the order
        a directory walk would give them. Names read `REPO@SHORTSHA:path/in/repo.yaml`."""
        tree = self.repo.commit(commit.sha).tree
        label = f"{display or self.url}@{commit.short}"
        if subdir:
            try:
                top = tree / subdir
            except KeyError:
                raise SourceError(f"path {subdir!r} does not exist in repository {self.url} at "
                                  f"{commit.short}") from None
        else:
            top = tree
        if top.type == "blob":
            blobs = [top]
        elif top.type == "tree":
            blobs = [b for b in top.traverse() if b.type == "blob" and _wanted(b, subdir)]
            blobs.sort(key=lambda b: _walk_order(b.path))
        else:
            raise SourceError(f"path {subdir!r} in repository {self.url} at {commit.short} is a submodule")
        out: list[tuple[str, str | Diagnostic]] = []
        for b in blobs:
            name = f"{label}:{b.path}"
            data = b.data_stream.read()
            try:
                out.append((name, data.decode("utf-8")))
            except UnicodeDecodeError as e:
                out.append((name, Diagnostic(Severity.ERROR, "encoding",
                                             f"not UTF-8 text ({e.reason} at byte {e.start})", file=name)))
        return out


def _wanted(blob, subdir: str) -> bool:
    if blob.mode == SYMLINK_MODE:
        return False
    rel = blob.path[len(subdir) + 1:] if subdir else blob.path
    parts = rel.split("/")
    if any(p.startswith(".") for p in parts):
        return False
    return parts[-1].endswith(MANIFEST_SUFFIXES)


def _walk_order(path: str) -> tuple[str, ...]:
    """os.walk order with sorted entries: a directory's files before its subdirectories."""
    parts = path.split("/")
    return (*parts[:-1], "\x00" + parts[-1])
