"""How kubectl names resources: what users type (`po`, `pods,svc`, `all`), and the messages that
name them (not found, already exists, unknown type)."""

from __future__ import annotations

import sys

from gitkube.errors import UsageError
from gitkube.kinds import BY_KIND, KindInfo, resolve

# What `all` means (kubectl's "all" category, minus kinds gitkube does not have).
ALL_KINDS = ("Pod", "ReplicationController", "Service", "DaemonSet", "Deployment", "ReplicaSet", "Job", "CronJob")


def require_kind(kind: str | None, verb: str) -> str:
    """The KIND argument, or a usage error naming the kinds there are."""
    if not kind:
        kinds = ", ".join(sorted(k.plural for k in BY_KIND.values()))
        raise UsageError(f"you must specify the type of resource to {verb}; one of: {kinds}")
    return kind


def resolve_kind(name: str) -> KindInfo:
    """The kind a user typed (`po`, `deploy`, `Pod`…); an unknown one is a usage error."""
    info = resolve(name)
    if info is None:
        raise UsageError(f'the server doesn\'t have a resource type "{name}"')
    return info


def resolve_kinds(arg: str) -> list[KindInfo]:
    """`po`, `pods,svc` or `all` (kubectl's "all" category) → the kinds, in the order given."""
    if arg.lower() == "all":
        return [BY_KIND[k] for k in ALL_KINDS]
    return [resolve_kind(part) for part in arg.split(",") if part]


def qualified_plural(info: KindInfo) -> str:
    """`pods`, `deployments.apps`: how API errors name a resource."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


def not_found(info: KindInfo, name: str) -> str:
    return f'Error from server (NotFound): {qualified_plural(info)} "{name}" not found'


def already_exists(info: KindInfo, name: str) -> str:
    return f'Error from server (AlreadyExists): {qualified_plural(info)} "{name}" already exists'


def warn(line: str) -> None:
    """One line on stderr (errors that do not stop the command, warnings)."""
    sys.stderr.write(line + "\n")
