"""A generated corpus of valid manifests of every kind, for the validate/diff/apply benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

KINDS = ("Pod", "Service", "ConfigMap", "ReplicaSet", "Deployment", "Job", "Secret", "ReplicationController")


def _template(app: str, i: int) -> str:
    return f"""    metadata:
      labels:
        app: {app}
        idx: "{i}"
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "exec httpd -f -p 8080"]
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet: {{path: /, port: http}}
          periodSeconds: 5
        resources:
          limits: {{memory: 64Mi, cpu: 250m}}
"""


def manifest(kind: str, i: int, variant: str = "") -> str:
    app = f"app-{i % 50}"
    name = f"{kind.lower()}-{i}"
    if kind == "Pod":
        return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {app}\n"
                f"    variant: \"{variant or 'a'}\"\nspec:\n  containers:\n  - name: web\n    image: busybox:1.36\n"
                f"    command: [\"sh\", \"-c\", \"exec httpd -f -p 8080\"]\n    ports:\n    - name: http\n"
                f"      containerPort: 8080\n")
    if kind == "Service":
        return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {app}\n"
                f"  ports:\n  - name: http\n    port: 80\n    targetPort: http\n")
    if kind == "ConfigMap":
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: value-{i}{variant}\n"
    if kind == "Secret":
        return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\nstringData:\n  token: t-{i}{variant}\n"
    if kind == "Job":
        return (f"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  completions: 2\n"
                f"  template:\n{_template(app, i).replace('    spec:', '    spec:' + chr(10) + '      restartPolicy: Never')}")
    api = "v1" if kind == "ReplicationController" else "apps/v1"
    selector = f"    app: {app}\n    idx: \"{i}\"\n" if kind == "ReplicationController" else \
        f"    matchLabels:\n      app: {app}\n      idx: \"{i}\"\n"
    return (f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n"
            f"  selector:\n{selector}  template:\n{_template(app, i)}")


def write_corpus(directory: str | os.PathLike, total: int, per_file: int = 100, kinds: tuple[str, ...] = KINDS,
                 variant: str = "") -> int:
    """Write `total` objects, `per_file` documents per file; returns the number of files."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = 0
    for start in range(0, total, per_file):
        docs = [manifest(kinds[i % len(kinds)], i, variant) for i in range(start, min(start + per_file, total))]
        (out / f"objects-{start // per_file:04d}.yaml").write_text("---\n".join(docs))
        files += 1
    return files
