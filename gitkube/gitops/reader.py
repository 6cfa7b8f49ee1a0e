"""Sources in, validated objects out: `-f` paths or a Git repository at a ref.

Both end in the same `CheckedSources` as `load_and_validate`, so validate/diff/apply behave the
same whatever the source; a Git source also yields the commit it was read at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitkube.apply.source import SourceInfo
from gitkube.errors import Diagnostic, UsageError
from gitkube.gitops.gitsource import CommitInfo, Mirror, normalize_subdir
from gitkube.schema.pipeline import CheckedSources


@dataclass
class Loaded:
    checked: CheckedSources
    source: SourceInfo
    commit: CommitInfo | None = None
    meta: dict = field(default_factory=dict)  # what the inventory should remember: repo, path, ref


def git_source_id(url: str, subdir: str) -> str:
    """The inventory key of a Git source: `git:URL#path` (the ref is not part of it: moving from a
    tag to a branch of the same repo and path is the same set of objects at another version)."""
    return f"git:{url}#{subdir or '.'}"


def check_texts(files: list[tuple[str, str | Diagnostic]], namespace: str | None = None) -> CheckedSources:
    """`load_and_validate` for in-memory files (name, text); a Diagnostic stands for an unreadable file."""
    from gitkube.manifest.loader import SourceFile, load_sources
    from gitkube.schema.validate import check_across, check_each

    sources = [SourceFile(name, text) for name, text in files if isinstance(text, str)]
    problems = [text for _, text in files if isinstance(text, Diagnostic)]
    result = check_each(load_sources(sources), namespace or "default")
    result.diagnostics[:0] = problems
    check_across(result)
    return CheckedSources(result.objects, result.diagnostics, result.total, files=len(files))


def read_git(repo: str, ref: str | None, path: str | None, namespace: str | None = None,
             mirror: Mirror | None = None) -> Loaded:
    """Fetch (or clone) the repository, resolve `ref`, read and validate the manifests under `path`
    at that exact commit. Raises SourceError (unknown ref, unreachable, authentication)."""
    m = mirror or Mirror(repo)
    subdir = normalize_subdir(path)
    try:
        m.update(ref)
        commit = m.resolve(ref)
        checked = check_texts(m.read(commit, subdir), namespace)
    finally:
        if mirror is None:
            m.close()
    source = SourceInfo(git_source_id(m.url, subdir), commit.sha, m.url)
    return Loaded(checked, source, commit, {"repo": m.url, "path": subdir, "ref": ref or ""})


def read_any(paths: list[str], repo: str | None, ref: str | None, path: str | None,
             namespace: str | None = None) -> Loaded:
    """What validate, diff and apply read: `-f` paths, or `--repo` [--ref] [--path]."""
    if repo is not None:
        if paths:
            raise UsageError("give either -f/paths or --repo, not both")
        return read_git(repo, ref, path, namespace)
    if ref is not None or path is not None:
        raise UsageError("--ref and --path need --repo")
    if not paths:
        raise UsageError("no manifests given: use -f PATH (a file, a directory, or - for stdin) or --repo URL")
    from gitkube.apply.source import source_for_paths
    from gitkube.schema.pipeline import load_and_validate

    return Loaded(load_and_validate(paths, namespace or "default"), source_for_paths(paths))
