"""`gitkube watch DIR`: validate, print the diff and apply on every saved edit.

Changes are collected with watchfiles (inotify) and handled once nothing else changed for
DEBOUNCE_MS, so an editor's write-rename-chmod sequence is one pass. Each pass reads the whole
directory again: the state always follows the files as they are, never a sequence of events.
A broken edit prints its problems and changes nothing; deleting a file prunes its objects only
with --prune (otherwise they are listed as no longer declared).
"""

from __future__ import annotations

import os
import time
from typing import Callable

from gitkube.apply.source import SourceInfo
from gitkube.errors import Conflict, ManifestError, PruneRefused
from gitkube.gitops.record import apply_and_record, carry_node_names, plan_for, resource_ref
from gitkube.store.base import Store

Echo = Callable[[str, bool], None]
DEBOUNCE_MS = 50
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CONFLICT_RETRIES = 5


def stamp() -> str:
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


class Watcher:
    def __init__(self, store: Store, directory: str, echo: Echo, *, namespace: str | None = None,
                 prune: bool = False, force_prune: bool = False, color: bool = False):
        self.store = store
        self.dir = os.path.abspath(directory)
        self.echo = echo
        self.namespace = namespace
        self.prune = prune
        self.force_prune = force_prune
        self.color = color
        self.source_id = "path:" + self.dir  # what `apply -f DIR` uses: the same inventory
        self._undeclared: tuple[str, ...] = ()
        self._known: set[str] = set()  # manifest files seen by the last pass

    def relevant(self, change, path: str) -> bool:
        """Manifest files (and deleted directories, which may have held some); hidden entries and
        editor backups are ignored, as `apply -f DIR` ignores them."""
        rel = os.path.relpath(path, self.dir)
        if rel == ".":
            return False
        parts = rel.split(os.sep)
        if any(p.startswith(".") for p in parts) or parts[-1].endswith("~"):
            return False
        if parts[-1].endswith(MANIFEST_SUFFIXES):
            return True
        prefix = path.rstrip(os.sep) + os.sep  # a directory that held manifests, or a new one
        return os.path.isdir(path) or any(f.startswith(prefix) for f in self._known)

    def describe(self, changes: set) -> str:
        verbs = {1: "added", 2: "modified", 3: "deleted"}
        items = sorted((os.path.relpath(p, self.dir), verbs.get(int(c), "changed")) for c, p in changes
                       if p.endswith(MANIFEST_SUFFIXES) or int(c) == 3)
        text = ", ".join(f"{p} {v}" for p, v in items[:5]) or "directories changed"
        return text + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

    def step(self, reason: str) -> str:
        """One pass over the directory: invalid | refused | unchanged | applied."""
        from gitkube.diff.render import render_text
        from gitkube.schema.pipeline import load_and_validate

        from gitkube.manifest.loader import expand_paths

        self.echo(f"[{stamp()}] {reason}", False)
        self._known = set(expand_paths([self.dir])[0])
        checked = load_and_validate([self.dir], self.namespace or "default")
        for d in checked.diagnostics:
            self.echo(d.format(), True)
        if not checked.ok:
            n = len(checked.errors)
            self.echo(f"error: {n} problem{'s' if n != 1 else ''} in the manifests; nothing was changed", True)
            return "invalid"
        objects = carry_node_names(self.store, checked.objects)
        probe = SourceInfo(self.source_id)
        try:
            plan = plan_for(self.store, objects, probe, prune=self.prune, force_prune=self.force_prune)
        except (ManifestError, PruneRefused) as exc:
            if isinstance(exc, ManifestError):
                for d in exc.diagnostics:
                    self.echo(d.format(), True)
            self.echo(f"error: {exc}; nothing was changed", True)
            return "refused"
        self.echo(render_text(plan, self.color).rstrip("\n"), False)
        if not self.prune:
            self._note_undeclared(probe, objects)
        if not plan.has_changes:
            return "unchanged"
        from gitkube.apply.source import source_for_paths

        source = source_for_paths([self.dir])  # after the diff is out: this one asks git for the commit
        for attempt in range(CONFLICT_RETRIES):
            try:
                outcome = apply_and_record(self.store, plan, objects, source, prune=self.prune)
                break
            except Conflict:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                objects = carry_node_names(self.store, objects)
                plan = plan_for(self.store, objects, source, prune=self.prune, force_prune=self.force_prune)
        for line in outcome.lines:
            if not line.endswith(" unchanged"):
                self.echo(line, False)
        self.echo(f"[{stamp()}] applied", False)
        return "applied"

    def _note_undeclared(self, source: SourceInfo, objects: list) -> None:
        from gitkube.apply.apply import key_of, prune_candidates

        gone = prune_candidates(self.store, source, {key_of(v.obj) for v in objects})
        names = tuple(resource_ref(o["kind"], o["metadata"]["name"]) for o in gone)
        if names and names != self._undeclared:
            self.echo(f"note: no longer declared, kept (run with --prune to delete): {', '.join(names)}", True)
        self._undeclared = names

    def run(self, stop_event, first: bool = True) -> None:
        """Watch until `stop_event` is set (or SIGINT). The first pass applies the directory as it is."""
        import watchfiles

        if first:
            self.safe_step(f"watching {self.dir}")
        for changes in watchfiles.watch(self.dir, watch_filter=self.relevant, debounce=1600, step=DEBOUNCE_MS,
                                        stop_event=stop_event, raise_interrupt=False, rust_timeout=1000):
            if stop_event.is_set():
                break
            self.safe_step(self.describe(changes))

    def safe_step(self, reason: str) -> str:
        """A pass whose failure (a busy state file, a conflict that kept coming) is reported and
        leaves the loop running: the next edit tries again."""
        from gitkube.errors import GitkubeError

        try:
            return self.step(reason)
        except GitkubeError as exc:
            self.echo(f"error: {exc}; nothing was changed", True)
            return "error"
