"""Where manifests came from: a stable source id for the inventory, and the Git commit if any."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceInfo:
    id: str  # inventory key: "path:/abs/a,/abs/b" or "git:URL#subdir"
    commit: str = ""  # the Git commit the manifests were read at, when known
    repo: str = ""  # repository path or URL, when known


def source_for_paths(paths: list[str]) -> SourceInfo:
    """Files and directories given with -f. The commit is HEAD of the enclosing repo when the
    work tree is clean for those paths; a dirty tree records `<sha>-dirty`."""
    absolute = sorted(os.path.abspath(p) for p in paths if p != "-")
    ident = "path:" + ",".join(absolute) if absolute else "stdin:"
    commit, repo = _git_commit(absolute)
    return SourceInfo(ident, commit, repo)


def _git_commit(paths: list[str]) -> tuple[str, str]:
    if not paths:
        return "", ""
    first = paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0])
    probe = first
    while probe and probe != os.path.dirname(probe):
        if os.path.exists(os.path.join(probe, ".git")):
            break
        probe = os.path.dirname(probe)
    else:
        return "", ""
    if not os.path.exists(os.path.join(probe, ".git")):
        return "", ""
    try:
        import git

        repo = git.Repo(probe)
        if not repo.head.is_valid():
            return "", probe
        sha = repo.head.commit.hexsha
        dirty = any(repo.is_dirty(untracked_files=True, path=os.path.relpath(p, probe)) for p in paths)
        return (f"{sha}-dirty" if dirty else sha), probe
    except Exception:  # a broken repo only costs us the commit annotation
        return "", probe
