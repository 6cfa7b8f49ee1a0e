"""`gitkube validate` throughput vs the `kubernetes-validate` package, same objects, same run.

gitkube is timed as a whole process over a generated corpus (parse + validate every object,
strict). kubernetes-validate is timed in-process (its Python API, strict mode, the same
objects) on a slice of the corpus, because at its speed the whole corpus would take minutes.
Run: python3 -m bench.bench_validate [--objects N] [--peer-sample N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402


def time_gitkube(directory: str) -> float:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "gitkube", "validate", directory], capture_output=True, text=True,
                         cwd=ROOT)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"gitkube validate failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return elapsed


def time_kubernetes_validate(directory: str, sample: int) -> tuple[float, int]:
    """Seconds and objects for `sample` objects of the corpus, or (0, 0) if the package is missing."""
    try:
        import kubernetes_validate
        from ruamel.yaml import YAML
    except ImportError:
        return 0.0, 0
    y = YAML(typ="safe")
    objects = []
    for f in sorted(Path(directory).glob("*.yaml")):
        objects.extend(d for d in y.load_all(f.read_text()) if d)
        if len(objects) >= sample:
            break
    objects = objects[:sample]
    start = time.perf_counter()
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    return time.perf_counter() - start, len(objects)


def run(quick: bool = False, objects: int | None = None, peer_sample: int | None = None) -> dict:
    """Best of 3 gitkube runs (quick: 1) over `objects` (10,000); kubernetes-validate on
    `peer_sample` of them (300; quick: 100)."""
    objects = objects or 10_000
    peer_sample = peer_sample or (100 if quick else 300)
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(tmp, objects)
        time_gitkube(tmp)  # warm the page cache and bytecode
        ours = min(time_gitkube(tmp) for _ in range(1 if quick else 3))
        peer_s, peer_n = time_kubernetes_validate(tmp, peer_sample)
    ours_rate = objects / ours
    result = {"objects": objects, "gitkube_seconds": round(ours, 3), "gitkube_objects_per_s": round(ours_rate)}
    if peer_n:
        peer_rate = peer_n / peer_s
        result.update(kubernetes_validate_objects=peer_n, kubernetes_validate_objects_per_s=round(peer_rate, 1),
                      ratio=round(ours_rate / peer_rate, 1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--peer-sample", type=int, default=300)
    args = ap.parse_args()
    r = run(objects=args.objects, peer_sample=args.peer_sample)
    print(f"gitkube validate: {r['objects']} objects in {r['gitkube_seconds']} s = {r['gitkube_objects_per_s']} objects/s")
    if "ratio" in r:
        print(f"kubernetes-validate: {r['kubernetes_validate_objects_per_s']} objects/s "
              f"({r['kubernetes_validate_objects']} objects); gitkube is {r['ratio']}x faster")


if __name__ == "__main__":
    main()
