"""The kinds gitkube knows: API group/version, plural, short names, scope and name rule.

One table used by the loader (apiVersion checks), the store (keys), and the CLI (`get po`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    name_rule: str  # "subdomain" | "label" | "dns1035"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource_name(self) -> str:
        """What `-o name` prints before the slash: `pod`, `deployment.apps`."""
        singular = self.kind.lower()
        return f"{singular}.{self.group}" if self.group else singular


KINDS: tuple[KindInfo, ...] = (
    KindInfo("Namespace", "", "v1", "namespaces", ("ns",), False, "label"),
    KindInfo("Node", "", "v1", "nodes", ("no",), False, "subdomain"),
    KindInfo("Pod", "", "v1", "pods", ("po",), True, "subdomain"),
    KindInfo("ReplicationController", "", "v1", "replicationcontrollers", ("rc",), True, "subdomain"),
    KindInfo("Service", "", "v1", "services", ("svc",), True, "dns1035"),
    KindInfo("Endpoints", "", "v1", "endpoints", ("ep",), True, "subdomain"),
    KindInfo("Secret", "", "v1", "secrets", (), True, "subdomain"),
    KindInfo("ConfigMap", "", "v1", "configmaps", ("cm",), True, "subdomain"),
    KindInfo("ReplicaSet", "apps", "v1", "replicasets", ("rs",), True, "subdomain"),
    KindInfo("Deployment", "apps", "v1", "deployments", ("deploy",), True, "subdomain"),
    KindInfo("DaemonSet", "apps", "v1", "daemonsets", ("ds",), True, "subdomain"),
    KindInfo("Job", "batch", "v1", "jobs", (), True, "subdomain"),
    KindInfo("CronJob", "batch", "v1", "cronjobs", ("cj",), True, "subdomain"),
    KindInfo("Ingress", "networking.k8s.io", "v1", "ingresses", ("ing",), True, "subdomain"),
)

BY_KIND: dict[str, KindInfo] = {k.kind: k for k in KINDS}

# Older apiVersions that tutorials print; accepted with a warning and converted.
DEPRECATED_API_VERSIONS: dict[tuple[str, str], str] = {
    ("apps/v1beta1", "Deployment"): "apps/v1",
    ("apps/v1beta2", "Deployment"): "apps/v1",
    ("extensions/v1beta1", "Deployment"): "apps/v1",
    ("apps/v1beta1", "ReplicaSet"): "apps/v1",
    ("apps/v1beta2", "ReplicaSet"): "apps/v1",
    ("extensions/v1beta1", "ReplicaSet"): "apps/v1",
    ("apps/v1beta2", "DaemonSet"): "apps/v1",
    ("extensions/v1beta1", "DaemonSet"): "apps/v1",
    ("batch/v1beta1", "CronJob"): "batch/v1",
    ("batch/v2alpha1", "CronJob"): "batch/v1",
    ("extensions/v1beta1", "Ingress"): "networking.k8s.io/v1",
    ("networking.k8s.io/v1beta1", "Ingress"): "networking.k8s.io/v1",
}


def _alias_table() -> dict[str, KindInfo]:
    table: dict[str, KindInfo] = {}
    for info in KINDS:
        for alias in (info.kind.lower(), info.plural, *info.short_names, f"{info.kind.lower()}.{info.group}",
                      f"{info.plural}.{info.group}"):
            table[alias] = info
    return table


_ALIASES = _alias_table()


def resolve(name: str) -> KindInfo | None:
    """Map what a user types after `get`/`delete` (po, pods, Pod, deploy.apps…) to a kind."""
    return _ALIASES.get(name.lower()) or BY_KIND.get(name)


def supported_api_versions() -> str:
    return ", ".join(f"{k.api_version}/{k.kind}" for k in KINDS)
