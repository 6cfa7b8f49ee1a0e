"""Where the state file lives: `--state PATH`, else `$GITKUBE_STATE`, else the XDG state directory."""

from __future__ import annotations

import os
from collections.abc import Mapping


def state_path(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Resolve the state file path. `environ` defaults to the process environment (tests pass a dict)."""
    env = os.environ if environ is None else environ
    chosen = explicit or env.get("GITKUBE_STATE")
    if chosen:
        return os.path.expanduser(chosen)
    home = env.get("HOME") or os.path.expanduser("~")
    base = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec says relative values are invalid and must be ignored
        base = os.path.join(home, ".local", "state")
    return os.path.join(base, "gitkube", "state.db")
