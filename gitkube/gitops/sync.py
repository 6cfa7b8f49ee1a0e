"""`gitkube sync`: keep the state at what a Git ref declares.

Every interval (and at once on start): fetch, resolve the ref. A commit not seen before is read
from the mirror, validated, diffed and applied (pruning with --prune). An invalid commit, or one
whose apply is refused, is reported with its author and every problem, and nothing of it is
applied: the last good commit stays in force. The same commit again means: compare live with the
last good commit, and either report drift (once per distinct drift) or, with --self-heal, apply
that commit again so live changes made outside Git are reverted.

One pass is `Syncer.step()`; the CLI calls it in a loop with the agent running in a thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from gitkube.apply.source import SourceInfo
from gitkube.errors import Conflict, GitkubeError, ManifestError, PruneRefused, SourceError
from gitkube.gitops.gitsource import CommitInfo, Mirror, normalize_subdir
from gitkube.gitops.reader import check_texts, git_source_id
from gitkube.gitops.record import (apply_and_record, carry_node_names, describe_changes, plan_for, record_sync,
                                   sync_record)
from gitkube.schema.validate import Validated
from gitkube.store.base import Store

Echo = Callable[[str, bool], None]  # (text, to_stderr)
CONFLICT_RETRIES = 5


@dataclass
class SyncOptions:
    repo: str
    ref: str | None = None
    path: str | None = None
    prune: bool = False
    force_prune: bool = False
    self_heal: bool = False
    namespace: str | None = None


@dataclass
class Good:
    """The last commit that was applied: what stays in force."""

    commit: CommitInfo
    objects: list[Validated]
    source: SourceInfo


def stamp() -> str:
    return time.strftime("%H:%M:%S")


class Syncer:
    def __init__(self, store: Store, opts: SyncOptions, echo: Echo, mirror: Mirror | None = None):
        self.store = store
        self.opts = opts
        self.echo = echo
        self.mirror = mirror or Mirror(opts.repo)
        self.subdir = normalize_subdir(opts.path)
        self.source_id = git_source_id(self.mirror.url, self.subdir)
        self.meta = {"repo": self.mirror.url, "path": self.subdir, "ref": opts.ref or ""}
        self.seen: str | None = None  # last commit dealt with (applied or rejected)
        self.good: Good | None = None
        self._drift: str | None = None  # the drift last reported, to say it once
        self._fetch_error: str | None = None
        self.passes = 0

    def out(self, text: str) -> None:
        self.echo(text, False)

    def err(self, text: str) -> None:
        self.echo(text, True)

    # --- one pass ------------------------------------------------------------------------------
    def step(self) -> str:
        """One poll. Returns what happened: applied | unchanged | invalid | refused | healed |
        drift | in-sync | unreachable. Raises SourceError only on the first pass (a wrong URL or
        ref should stop the command, not loop)."""
        first = self.passes == 0
        self.passes += 1
        try:
            self.mirror.update(self.opts.ref)
            commit = self.mirror.resolve(self.opts.ref)
        except SourceError as exc:
            if first:
                raise
            return self._unreachable(exc)
        if self._fetch_error is not None:
            self.out(f"[{stamp()}] sync: repository reachable again")
            self._fetch_error = None
        if commit.sha != self.seen:
            result = self._new_commit(commit)
            if first and self.good is None:
                self.restore_good()
            return result
        return self._maintain()

    def _unreachable(self, exc: SourceError) -> str:
        if str(exc) != self._fetch_error:
            self.err(f"[{stamp()}] sync: {exc}; retrying every interval"
                     + (f" ({self.good.commit.short} stays in force)" if self.good else ""))
            self._fetch_error = str(exc)
            record_sync(self.store, self.source_id, sync_record("unreachable", error=str(exc)), self.meta)
        return "unreachable" if self.good is None else self._maintain()

    def _new_commit(self, commit: CommitInfo) -> str:
        ref = self.opts.ref or "HEAD"
        self.out(f"[{stamp()}] sync: {ref} is at {commit.describe()}")
        try:
            checked = check_texts(self.mirror.read(commit, self.subdir), self.opts.namespace)
        except SourceError as exc:
            return self._reject(commit, "failed", str(exc), [])
        if not checked.ok:
            errors = checked.errors
            n = len(errors)
            return self._reject(commit, "invalid", f"{n} error{'s' if n != 1 else ''} in the manifests",
                                [d.format() for d in checked.diagnostics])
        for d in checked.warnings:
            self.err(d.format())
        source = SourceInfo(self.source_id, commit.sha, self.mirror.url)
        objects = carry_node_names(self.store, checked.objects)
        try:
            result = self._apply(objects, source, commit, show_diff=True)
        except (ManifestError, PruneRefused) as exc:
            problems = [d.format() for d in exc.diagnostics] if isinstance(exc, ManifestError) else []
            return self._reject(commit, "refused", str(exc), problems)
        self.seen = commit.sha
        self.good = Good(commit, checked.objects, source)
        self._drift = None
        return result

    def _apply(self, objects: list[Validated], source: SourceInfo, commit: CommitInfo, show_diff: bool) -> str:
        from gitkube.diff.render import render_text

        for attempt in range(CONFLICT_RETRIES):
            plan = plan_for(self.store, objects, source, prune=self.opts.prune, force_prune=self.opts.force_prune)
            if show_diff and attempt == 0:
                self.out(render_text(plan).rstrip("\n"))
            try:
                outcome = apply_and_record(self.store, plan, objects, source, prune=self.opts.prune,
                                           meta=self.meta, last_sync=sync_record(
                                               "applied" if plan.has_changes else "unchanged", commit))
                break
            except Conflict:  # the agent wrote one of the objects between plan and apply
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                objects = carry_node_names(self.store, objects)
        changed = [ln for ln in outcome.lines if not ln.endswith(" unchanged")]
        for line in changed:
            self.out(line)
        self.out(f"[{stamp()}] sync: {commit.short} applied ({_counts(plan)})")
        return "applied" if changed else "unchanged"

    def _reject(self, commit: CommitInfo, result: str, error: str, problems: list[str]) -> str:
        self.seen = commit.sha  # reported once; the next commit gets its own chance
        keep = f"{self.good.commit.short} stays in force" if self.good else "nothing was applied before"
        self.err(f"[{stamp()}] sync: commit {commit.describe()} was rejected: {error}; "
                 f"nothing of it was applied ({keep})")
        for p in problems:
            self.err(f"  {p}")
        record_sync(self.store, self.source_id, sync_record(result, commit, error, problems), self.meta)
        return "invalid" if result == "invalid" else "refused"

    # --- the same commit again: drift ----------------------------------------------------------
    def _maintain(self) -> str:
        if self.good is None:
            return "unchanged"
        good = self.good
        objects = carry_node_names(self.store, good.objects)
        try:
            plan = plan_for(self.store, objects, good.source, prune=False)
        except GitkubeError as exc:  # e.g. its namespace was deleted by hand
            self.err(f"[{stamp()}] sync: cannot compare with {good.commit.short}: {exc}")
            return "drift"
        if not plan.has_changes:
            if self._drift is not None:
                self.out(f"[{stamp()}] sync: live state matches {good.commit.short} again")
                self._drift = None
            return "in-sync"
        lines = describe_changes(plan)
        if self.opts.self_heal:
            for attempt in range(CONFLICT_RETRIES):
                try:
                    apply_and_record(self.store, plan, objects, good.source, prune=False, meta=self.meta)
                    break
                except Conflict:
                    if attempt == CONFLICT_RETRIES - 1:
                        raise
                    plan = plan_for(self.store, carry_node_names(self.store, good.objects), good.source, prune=False)
            self.out(f"[{stamp()}] self-heal: reverted live changes to {good.commit.short}:")
            for line in lines:
                self.out(f"  {line}")
            self._drift = None
            return "healed"
        signature = "\n".join(lines)
        if signature != self._drift:
            n = sum(1 for i in plan.items if i.action != "unchanged")
            self.err(f"[{stamp()}] drift: live state differs from {good.commit.short} in {n} "
                     f"object{'s' if n != 1 else ''} (run with --self-heal to revert):")
            for line in lines:
                self.err(f"  {line}")
            self.err(f"  {plan.summary()}")
            self._drift = signature
        return "drift"

    def restore_good(self) -> None:
        """After a restart whose first commit was rejected: keep the commit the inventory says is in
        force (if the mirror has it and it still validates) as the one to maintain."""
        inv = self.store.get_inventory(self.source_id)
        if self.good is not None or inv is None or not inv.revision:
            return
        try:
            commit = self.mirror.resolve(inv.revision)
            checked = check_texts(self.mirror.read(commit, self.subdir), self.opts.namespace)
        except GitkubeError:
            return
        if checked.ok:
            self.good = Good(commit, checked.objects, SourceInfo(self.source_id, commit.sha, self.mirror.url))
            self.out(f"[{stamp()}] sync: {commit.short} (applied before) stays in force")


def _counts(plan) -> str:
    return (f"{plan.count('create')} created, {plan.count('update')} configured, "
            f"{plan.count('unchanged')} unchanged, {plan.count('prune')} pruned")
