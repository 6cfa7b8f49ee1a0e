"""`python3 -m bench`: every benchmark, one run, one result file.

    python3 -m bench [--quick] [--only NAME,...] [--out DIR] [--reps N] [--peers LIST] [--idle-pods N]
                     [--profile] [--list] [--update-docs]

Runs the selected benchmarks in order (CPU-only ones first, then the ones that drive Docker),
prints each one's numbers as it finishes, and writes to DIR (default bench/results/):

* ``latest.json`` -- machine, mode, and per benchmark: status, metrics, comparisons (gitkube vs a peer
  or a target, as a ratio measured in this run), notes, plot series, raw samples;
* ``latest.md``   -- the same as Markdown tables (docs/BENCHMARKS.md explains them);
* ``<mode>.json`` / ``<mode>.md`` -- a copy per mode (quick/full), so a quick CI run does not
  overwrite the full run's numbers the docs quote;
* PNG plots (matplotlib), named ``<plot>-<mode>.png``.

Numbers are reported, never asserted: the exit status is 1 only if a benchmark failed to run.
With ``CI=true`` a missing Docker engine is a failure, otherwise the Docker benchmarks are skipped.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.harness import (CLEANUP, IMAGE, ROOT, docker_api, engine_available, ensure_images, install_cleanup, log,
                           machine_info, pytest_running, shared_engine_guard)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Bench:
    name: str
    title: str
    docker: bool
    run: Callable[[bool, dict], object]
    external: bool = False  # written by another engineer; skipped with a note when absent
    full_only: bool = False  # skipped by --quick (unless named in --only): keeps quick under 3 minutes


def _structure(quick: bool, ctx: dict) -> dict:
    from bench import bench_structure

    r = bench_structure.run(quick)
    rate = r["fast_path_objects_per_s"]
    return {"metrics": r, "comparisons": [_target("check_structure fast path", rate, 20_000, "objects/s", higher=True)]}


def _validate(quick: bool, ctx: dict) -> dict:
    from bench import bench_validate

    r = bench_validate.run(quick)
    out: dict = {"metrics": r, "comparisons": [], "notes": []}
    if "ratio" in r:
        out["comparisons"].append({
            "what": f"validate {r['objects']} objects (gitkube: whole CLI process)", "ours": r["gitkube_objects_per_s"],
            "peer": "kubernetes-validate", "peer_value": r["kubernetes_validate_objects_per_s"], "unit": "objects/s",
            "ratio": r["ratio"], "target": None, "met": None, "higher_is_better": True,
            "note": f"peer in-process on {r['kubernetes_validate_objects']} of the objects"})
    else:
        out["notes"].append("kubernetes-validate is not installed (pip install -e '.[bench]'): no ratio")
    return out


def _apply(quick: bool, ctx: dict) -> dict:
    from bench import bench_apply

    r = bench_apply.run(quick)
    return {"metrics": r, "comparisons": [
        _target("apply of 1,000 new objects (CLI process)", r["apply_new_1000_s"], 2.0, "s"),
        _target("diff of 10,000 unchanged objects (CLI process)", r["diff_unchanged_10000_s"], 3.0, "s"),
        _target("apply of 10,000 new objects (CLI process)", r["apply_new_10000_s"], None, "s"),
    ] + ([_target("re-apply of 10,000 unchanged objects (CLI process)", r["reapply_unchanged_10000_s"], None, "s")]
         if "reapply_unchanged_10000_s" in r else []),
        "notes": ["best of 1 attempt, no re-apply (quick)" if quick else "best of 3 attempts, each on a fresh state file"]}


def _get(quick: bool, ctx: dict) -> dict:
    from bench import bench_get

    r = bench_get.run(quick)
    return {"metrics": r, "comparisons": [
        _target(f"get pods -l app=x over {r['pods']} pods ({r['rows']} rows, CLI process)", r["median_s"],
                r["budget_s"], "s")]}


def _store(quick: bool, ctx: dict) -> dict:
    from bench import bench_store

    return {"metrics": bench_store.run(quick)}


def _transport(quick: bool, ctx: dict) -> dict:
    from bench import bench_transport

    r = bench_transport.run(quick)
    m = r["metrics"]
    cmps = []
    for col in ("create ms", "start ms", "cycle ms"):
        a, b = m.get(f"gitkube ssh (streamlocal): {col}"), m.get(f"gitkube unix: {col}")
        if a and b:
            cmps.append({"what": f"single container {col.split()[0]} (median)", "ours": a, "peer": "gitkube unix",
                         "peer_value": b, "unit": "ms", "ratio": round(a / b, 2), "target": None, "met": None,
                         "note": "gitkube's ssh transport vs its local socket"})
        c = m.get(f"docker-py ssh:// (paramiko): {col}")
        if a and c:
            cmps.append({"what": f"single container {col.split()[0]} (median)", "ours": a, "peer": "docker-py ssh://",
                         "peer_value": c, "unit": "ms", "ratio": round(a / c, 2), "target": None, "met": None,
                         "note": "gitkube's ssh transport vs docker-py's"})
    return {"metrics": m, "comparisons": cmps,
            "notes": [f"medians of {r['pings']} pings and {r['cycles']} create/inspect/start/remove cycles; "
                      f"batches of {r['batch']} containers"]}


def _converge(quick: bool, ctx: dict) -> dict:
    from bench import bench_converge

    peers = tuple(p for p in ctx["args"].peers.split(",") if p) if ctx["args"].peers else None
    r = bench_converge.run(quick, reps=ctx["args"].reps, peers=peers)
    if quick and peers is None:
        r.setdefault("notes", []).append("quick: swarm and compose are not run (full mode, or --peers sdk,swarm,compose)")
    return r


def _converge_ssh(quick: bool, ctx: dict) -> dict:
    from bench import bench_converge

    local = ctx["results"].get("converge")
    return bench_converge.run_ssh(quick, reps=ctx["args"].reps,
                                  local=local if local and local.get("status") in ("ok", "partial") else None)


def _agent_idle(quick: bool, ctx: dict) -> dict:
    from bench import bench_agent_idle

    pods = ctx["args"].idle_pods or (100 if quick else 200)
    return bench_agent_idle.run(quick, pods=pods,
                                profile_dir=str(ctx["out"]) if ctx["args"].profile else None)


def _external(module: str, owner: str, quick_argv: tuple[str, ...] = (),
              adapt: Callable[[dict], dict] | None = None) -> Callable[[bool, dict], object]:
    """A benchmark another engineer writes: its run() if it has one whose required parameters are
    among quick/rounds/agent/image (filled in); else `python3 -m bench.<module> [--json] [quick_argv]`
    as a subprocess (each flag only if the script mentions it), its JSON output taken as the result
    (otherwise its output is kept in the notes). `adapt` turns that script's result into comparisons."""

    def run(quick: bool, ctx: dict) -> object:
        path = Path(__file__).resolve().parent / f"{module}.py"
        if not path.exists():
            return {"status": "skipped", "notes": [f"bench/{module}.py is not there yet ({owner})"]}
        mod = importlib.import_module(f"bench.{module}")
        fn = getattr(mod, "run", None)
        if callable(fn):
            # the arguments we know how to fill; anything else required -> run it as a script
            known = {"quick": quick, "rounds": 2 if quick else 5, "agent": True, "image": IMAGE}
            params = inspect.signature(fn).parameters.values()
            required = [p for p in params if p.default is inspect.Parameter.empty
                        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
            if all(p.name in known for p in required):
                raw = fn(**{p.name: known[p.name] for p in params if p.name in known})
                return adapt(raw) if adapt and isinstance(raw, dict) and "metrics" not in raw else raw
        source = path.read_text(errors="replace")
        argv = [sys.executable, "-m", f"bench.{module}"]
        if "--json" in source:
            argv.append("--json")
        if quick:
            if "--quick" in source:
                argv.append("--quick")
            else:  # flag/value pairs the script takes
                for flag, value in zip(quick_argv[::2], quick_argv[1::2]):
                    if f'"{flag}"' in source:
                        argv += [flag, value]
        r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=900)
        note = f"ran `{' '.join(argv[1:])}`; exit {r.returncode}"
        if r.returncode != 0:
            last = ((r.stderr or r.stdout).strip().splitlines() or [""])[-1]
            if "not installed" in last:  # a tool it needs is missing here (e.g. wrk): not a failure
                return {"status": "skipped", "notes": [note, last]}
            raise RuntimeError(f"{' '.join(argv[1:])} exited {r.returncode}:\n{r.stderr[-2000:]}")
        try:
            raw = json.loads(r.stdout)
        except ValueError:
            return {"notes": [note, "output:\n" + r.stdout[-3000:]]}
        if isinstance(raw, dict):
            raw.pop("machine", None)
            out = adapt(raw) if adapt and "metrics" not in raw else raw
            if isinstance(out, dict):
                out.setdefault("notes", []).insert(0, note)
            return out
        return {"metrics": {"result": str(raw)}, "notes": [note]}

    return run


def flatten(d: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists of numbers are kept as lists."""
    out: dict = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _service_adapt(raw: dict) -> dict:
    """bench_service.py's JSON: throughput through a NodePort vs the pod itself, ready -> traffic.
    Where the script gives a ratio paired per round (`nodeport_over_direct`, ...) that is the ratio;
    otherwise the ratio of the medians."""
    t = raw.get("throughput") or {}
    rates = t.get("requests_per_s") or {}
    paired = {"nodePort, 1 endpoint": t.get("nodeport_over_direct"),
              "cluster IP, 1 endpoint": t.get("clusterip_over_direct")}
    cmps = []
    direct = rates.get("direct pod")
    for name, value in rates.items():
        if name == "direct pod" or not direct:
            continue
        ratio = paired.get(name) or round(value / direct, 3)
        target = 0.9 if name == "nodePort, 1 endpoint" else None
        cmps.append({"what": f"requests/s through {name}", "ours": value, "peer": "direct to the pod",
                     "peer_value": direct, "unit": "req/s", "ratio": ratio, "target": target,
                     "met": None if target is None else ratio >= target, "higher_is_better": True,
                     "note": "busybox httpd, a new connection per request; ratio "
                             + ("paired per round" if paired.get(name) else "of the medians")})
    metrics = flatten({k: v for k, v in raw.items() if k != "throughput"})
    metrics.update({f"requests_per_s.{k}": v for k, v in rates.items()})
    metrics.update({k: v for k, v in t.items() if k not in ("requests_per_s", "rounds")})
    return {"metrics": metrics, "comparisons": cmps, "samples": {"rounds": t.get("rounds")}}


BENCHES = [
    Bench("structure", "schema check (in-process)", False, _structure),
    Bench("validate", "validate: gitkube vs kubernetes-validate", False, _validate),
    Bench("apply", "apply / diff throughput (CLI, 1,000 and 10,000 objects)", False, _apply),
    Bench("get", "get pods -l over 10,000 pods (CLI)", False, _get),
    Bench("store", "SQLite store operations (in-process)", False, _store, full_only=True),
    Bench("transport", "Docker transports: unix vs SSH", True, _transport, full_only=True),
    Bench("converge", "convergence: gitkube vs SDK floor, swarm, compose", True, _converge),
    Bench("converge_ssh", "convergence over SSH vs the local socket", True, _converge_ssh),
    Bench("agent_idle", "idle agent CPU and pass time at 200 pods", True, _agent_idle),
    Bench("service", "service data plane: NodePort vs pod (bench_service.py)", True,
          _external("bench_service", "the services engineer writes it",
                    ("--duration", "1", "--rounds", "1", "--flips", "2"), _service_adapt), external=True),
    Bench("watch", "GitOps watch (bench_watch.py)", True,
          _external("bench_watch", "the GitOps engineer writes it"), external=True),
]


def _target(what: str, value: float, target: float | None, unit: str, higher: bool = False) -> dict:
    return {"what": what, "ours": value, "peer": "target" if target is not None else "", "peer_value": target,
            "unit": unit, "ratio": None if target is None else round(value / target, 2),
            "target": None if target is None else 1.0,
            "met": None if target is None else (value >= target if higher else value <= target),
            "higher_is_better": higher}


def normalize(raw: object) -> dict:
    """Bench output -> {status, metrics, comparisons, notes, series, samples}. A flat dict of numbers
    (the older scripts' run()) becomes the metrics."""
    if not isinstance(raw, dict):
        return {"status": "ok", "metrics": {"result": str(raw)}, "comparisons": [], "notes": []}
    out = {"status": raw.get("status", "ok"), "comparisons": list(raw.get("comparisons") or []),
           "notes": list(raw.get("notes") or [])}
    if "metrics" in raw:
        out["metrics"] = dict(raw["metrics"])
        for k in ("series", "samples"):
            if k in raw:
                out[k] = raw[k]
        extra = {k: v for k, v in raw.items() if k not in ("metrics", "comparisons", "notes", "series", "samples",
                                                          "status", "seconds")}
        if extra:
            out["data"] = extra
    else:
        out["metrics"] = {k: v for k, v in raw.items() if k not in ("status", "notes", "comparisons")}
    return out


# --- output ------------------------------------------------------------------------------------

def fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "**NO**"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def machine_line(doc: dict) -> str:
    m, s = doc["machine"], doc["suite"]
    d = m.get("docker") or {}
    return (f"{m.get('cpu_model', '?')}, {m.get('cpus')} CPUs, {m.get('mem_gib')} GiB, {m.get('os', '?')}, "
            f"kernel {m.get('kernel')}, cgroup {m.get('cgroup')}; Docker {d.get('server')} ({d.get('storage')}, "
            f"{d.get('cgroup_driver')}); Python {m.get('python')}, docker-py {m.get('docker_py')}; "
            f"gitkube {m.get('gitkube_commit')}. Load average at start: {' '.join(m.get('loadavg_at_start') or [])}; "
            f"containers running on the engine at start (all users): {d.get('containers_running')}; "
            f"test runs on the machine during the run: {'yes' if s.get('pytest_running') else 'no'}.")


def comparisons_table(doc: dict) -> list[str]:
    lines = ["| benchmark | what | gitkube | vs | their value | ratio | target | met |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | :---: |"]
    for name, b in doc["benchmarks"].items():
        for c in b.get("comparisons") or []:
            unit = c.get("unit", "")
            tgt = c.get("target")
            tgt_s = "" if tgt is None else (f"≥ {fmt(tgt)}×" if c.get("higher_is_better") else f"≤ {fmt(tgt)}×")
            lines.append(f"| {name} | {c['what']}{' (' + c['note'] + ')' if c.get('note') else ''} | "
                         f"{fmt(c['ours'])} {unit} | {c.get('peer', '')} | "
                         f"{fmt(c.get('peer_value'))}{' ' + unit if c.get('peer_value') is not None else ''} | "
                         f"{fmt(c.get('ratio'))}{'×' if c.get('ratio') is not None else ''} | {tgt_s} | "
                         f"{fmt(c.get('met'))} |")
    return lines


def markdown(doc: dict, plots: dict[str, str]) -> str:
    s = doc["suite"]
    lines = [f"# gitkube benchmarks: {s['mode']} run, {s['started']}", "",
             f"Machine: {machine_line(doc)}", "", f"Total {s['seconds']:.0f} s.", "",
             "## Comparisons (measured in this run)", "", *comparisons_table(doc)]
    lines += ["", "## Status", "", "| benchmark | status | seconds |", "| --- | --- | ---: |"]
    for name, b in doc["benchmarks"].items():
        lines.append(f"| {name} | {b['status']}{': ' + b['error'].splitlines()[0][:120] if b.get('error') else ''} | "
                     f"{fmt(b.get('seconds'))} |")
    if plots:
        lines += ["", "## Plots", ""]
        for title, path in plots.items():
            lines.append(f"![{title}]({Path(path).name})")
            lines.append("")
    for name, b in doc["benchmarks"].items():
        lines += ["", f"## {name}: {b.get('title', '')}", ""]
        if b.get("metrics"):
            lines += ["| metric | value |", "| --- | ---: |"]
            lines += [f"| {k} | {fmt(v)} |" for k, v in b["metrics"].items()]
        for n in b.get("notes") or []:
            if "\n" in n:
                first, rest = n.split("\n", 1)
                lines += ["", f"* {first}", "", "```", rest.rstrip(), "```"]
            else:
                lines.append(f"* {n}")
        if b.get("error"):
            lines += ["", "```", b["error"][-3000:], "```"]
    return "\n".join(lines) + "\n"


DOCS = ROOT / "docs" / "BENCHMARKS.md"
DOCS_ASSETS = ROOT / "docs" / "benchmarks"  # tracked copies: bench/results/ is git-ignored
BEGIN, END = "<!-- bench:latest:begin (python3 -m bench --update-docs) -->", "<!-- bench:latest:end -->"


def update_docs(results: Path, docs: Path = DOCS, assets: Path = DOCS_ASSETS) -> str:
    """Copy <results>/full.{json,md} and the full run's plots to docs/benchmarks/ and re-render the
    generated part of docs/BENCHMARKS.md (between the bench:latest markers) from them: date,
    machine, every comparison, the plots. Returns the new section."""
    import shutil

    doc = json.loads((results / "full.json").read_text())
    s = doc["suite"]
    assets.mkdir(parents=True, exist_ok=True)
    try:  # re-draw from the JSON, so plot changes need no new run
        from bench import plots as plotting

        s["plot_files"] = {k: Path(v).name for k, v in plotting.make_all(doc, results, "full").items()}
    except ImportError:
        pass
    plots = s.get("plot_files") or {}
    for name in ["full.json", "full.md", *plots.values()]:
        shutil.copy2(results / name, assets / name)
    rel = os.path.relpath(assets, docs.parent)
    section = [BEGIN, "", f"Full run of {s['started']} ({s['seconds'] / 60:.0f} min); every metric and note: "
               f"[`{rel}/full.md`]({rel}/full.md), raw: `{rel}/full.json`.", "",
               f"Machine: {machine_line(doc)}", "", *comparisons_table(doc), ""]
    for title, name in plots.items():
        section += [f"![{title}]({rel}/{name})", ""]
    section.append(END)
    text = "\n".join(section)
    old = docs.read_text() if docs.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text + old[old.index(END) + len(END):]
    else:
        new = old + ("\n" if old else "") + text + "\n"
    docs.write_text(new)
    return text


def print_summary(name: str, b: dict) -> None:
    print(f"\n== {name}: {b['status']} ({b.get('seconds', 0):.1f} s)")
    for c in b.get("comparisons") or []:
        ratio = f"  ratio {c['ratio']}x" if c.get("ratio") is not None else ""
        peer = f" vs {c['peer']} {fmt(c['peer_value'])}" if c.get("peer_value") is not None else ""
        met = "" if c.get("met") is None else ("  [target met]" if c["met"] else "  [TARGET MISSED]")
        print(f"   {c['what']}: {fmt(c['ours'])} {c.get('unit', '')}{peer}{ratio}{met}")
    if not b.get("comparisons"):
        for k, v in list((b.get("metrics") or {}).items())[:12]:
            print(f"   {k}: {fmt(v)}")
    for n in b.get("notes") or []:
        print(f"   note: {n.splitlines()[0]}")
    if b.get("error"):
        print("   error: " + b["error"].strip().splitlines()[-1])


# --- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and windows (about 3 min on 2 cores)")
    ap.add_argument("--only", help="comma-separated benchmark names (see --list)")
    ap.add_argument("--out", default=str(RESULTS_DIR), help="result directory (default bench/results)")
    ap.add_argument("--reps", type=int, help="repetitions per convergence point (default: quick 1, full 3)")
    ap.add_argument("--peers", help="convergence peers, comma-separated from sdk,swarm,compose "
                                    "(default: all; quick: sdk)")
    ap.add_argument("--idle-pods", type=int,
                    help="pods held by the idle agent (default 200; quick 100: their start and removal are the "
                         "longest part of a quick run)")
    ap.add_argument("--profile", action="store_true", help="py-spy profile of the idle agent into --out")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--update-docs", action="store_true",
                    help="only copy <out>/full.* and its plots to docs/benchmarks/ and re-render the numbers "
                         "in docs/BENCHMARKS.md from them")
    args = ap.parse_args(argv)
    if args.update_docs:
        update_docs(Path(args.out))
        print(f"updated {DOCS} from {Path(args.out) / 'full.json'}")
        return 0
    if args.list:
        for b in BENCHES:
            print(f"{b.name:<13} {'docker ' if b.docker else '       '}{'full-only ' if b.full_only else '          '}{b.title}")
        return 0
    selected = BENCHES
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in {b.name for b in BENCHES}]
        if unknown:
            ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(b.name for b in BENCHES)}")
        selected = [b for b in BENCHES if b.name in names]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    install_cleanup()
    started = time.time()
    doc = {"suite": {"mode": mode, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
                     "argv": sys.argv[1:] if argv is None else argv, "only": args.only},
           "machine": machine_info(), "benchmarks": {}}
    ctx = {"args": args, "out": out, "results": doc["benchmarks"]}
    no_engine = engine_available() if any(b.docker for b in selected) else None
    if no_engine is None and any(b.docker for b in selected):
        ensure_images(docker_api())
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    others = pytest_running()
    if others:
        log("a pytest run is active on this machine: the engine is shared, expect noisy numbers")
    failed = False
    with shared_engine_guard():
        for b in selected:
            log(f"running {b.name} ({'quick' if args.quick else 'full'})")
            t0 = time.monotonic()
            if args.quick and b.full_only and not args.only:
                res = {"status": "skipped", "metrics": {}, "comparisons": [],
                       "notes": ["full mode only (name it in --only to run it with --quick)"]}
            elif b.docker and no_engine:
                res = {"status": "error" if ci else "skipped", "metrics": {}, "comparisons": [], "notes": [no_engine]}
                failed |= ci
            else:
                try:
                    res = normalize(b.run(args.quick, ctx))
                except KeyboardInterrupt:
                    raise
                except BaseException as e:  # noqa: BLE001 -- one benchmark failing must not stop the rest
                    if isinstance(e, SystemExit) and isinstance(e.code, int) and e.code > 128:
                        raise  # SIGTERM/SIGHUP (harness.install_cleanup): stop the whole run
                    res = {"status": "error", "metrics": {}, "comparisons": [], "notes": [],
                           "error": "".join(traceback.format_exception(e))}
                    failed = True
                finally:
                    CLEANUP.run()  # nothing of one benchmark survives into the next
            res["seconds"] = round(time.monotonic() - t0, 1)
            res["title"] = b.title
            doc["benchmarks"][b.name] = res
            print_summary(b.name, res)
            sys.stdout.flush()
            doc["suite"]["seconds"] = round(time.time() - started, 1)
            doc["suite"]["pytest_running"] = others or pytest_running()
            _write(doc, out, mode, final=False, partial=bool(args.only))
    doc["suite"]["seconds"] = round(time.time() - started, 1)
    plots = _write(doc, out, mode, final=True, partial=bool(args.only))
    print(f"\nwrote {out / 'latest.json'}, {out / 'latest.md'}" + (f" and {len(plots)} plot(s)" if plots else "")
          + f" in {doc['suite']['seconds']:.0f} s")
    return 1 if failed else 0


def _write(doc: dict, out: Path, mode: str, final: bool, partial: bool) -> dict[str, str]:
    """latest.{json,md} always; <mode>.{json,md} only for a whole-suite run, so an --only run never
    replaces the numbers of a complete one (its plots are named *-partial.png)."""
    plots: dict[str, str] = {}
    if final:
        try:
            from bench import plots as plotting

            plots = plotting.make_all(doc, out, "partial" if partial else mode)
        except ImportError as e:
            doc["suite"]["plots"] = f"no plots: {e} (pip install -e '.[bench]')"
        except Exception as e:  # noqa: BLE001 -- a plot must never lose the numbers
            doc["suite"]["plots"] = f"plotting failed: {type(e).__name__}: {e}"
        doc["suite"]["plot_files"] = {k: Path(v).name for k, v in plots.items()}
    text = json.dumps(doc, indent=1, default=str)
    md = markdown(doc, plots)
    for stem in ("latest",) if partial else ("latest", mode):
        (out / f"{stem}.json").write_text(text)
        (out / f"{stem}.md").write_text(md)
    return plots
