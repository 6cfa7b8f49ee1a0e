"""PNG plots of a suite result (matplotlib, Agg backend; `pip install -e '.[bench]'`).

* ``converge_up-<mode>.png``   -- time to all Running vs N pods: gitkube (apply --wait, and scale 0→N
  with a running agent, and over SSH) against the SDK floor, swarm and compose;
* ``converge_down-<mode>.png`` -- time to zero vs N pods, same systems;
* ``ratios-<mode>.png``        -- every comparison that has a target: ratio vs its target.
"""

from __future__ import annotations

from pathlib import Path

STYLE = {
    "gitkube": dict(color="#1f77b4", marker="o", lw=2.2),
    "gitkube scale 0→N (agent running)": dict(color="#1f77b4", marker="s", ls="--"),
    "gitkube scale N→0 (second time)": dict(color="#1f77b4", marker="s", ls="--"),
    "gitkube over ssh": dict(color="#17becf", marker="D", ls="-."),
    "gitkube, agent_idle setup (1 sample)": dict(color="#1f77b4", marker="*", ls="none", ms=10),
    "sdk": dict(color="#2ca02c", marker="^", label="docker SDK loop (floor, 8 threads)"),
    "swarm": dict(color="#d62728", marker="v", label="docker swarm (N containers)"),
    "compose": dict(color="#ff7f0e", marker="x", label="docker-compose 1.29 (N containers)"),
}


def _lines(ax, series: dict[str, dict[str, float]]) -> None:
    for name, points in series.items():
        if not points:
            continue
        xs = sorted(int(n) for n in points)
        ys = [points[str(n)] for n in xs]
        style = dict(STYLE.get(name, {}))
        label = style.pop("label", name)
        ax.plot(xs, ys, label=label, **style)
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)


def _converge(doc: dict, phase: str, out: Path, mode: str) -> str | None:
    import matplotlib.pyplot as plt

    conv = (doc["benchmarks"].get("converge") or {}).get("series") or {}
    series = dict(conv.get(f"converge_{phase}") or {})
    scale = (conv.get("scale") or {}).get(f"gitkube scale {phase}")
    if scale:
        series["gitkube scale 0→N (agent running)" if phase == "up" else "gitkube scale N→0 (second time)"] = scale
    ssh = (doc["benchmarks"].get("converge_ssh") or {}).get("series") or {}
    if phase == "up" and (ssh.get("ssh_up") or {}).get("ssh"):
        series["gitkube over ssh"] = ssh["ssh_up"]["ssh"]
    idle = (doc["benchmarks"].get("agent_idle") or {}).get("metrics") or {}
    largest = max((int(n) for pts in series.values() for n in pts), default=0)
    if phase == "up" and idle.get("cold_start_s") and idle.get("pods") and largest >= 100:
        series["gitkube, agent_idle setup (1 sample)"] = {str(idle["pods"]): idle["cold_start_s"]}
    if not any(series.values()):
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    _lines(ax, series)
    m = doc["machine"]
    ax.set_title(("Pods from nothing to all Running" if phase == "up" else "Pods from Running to gone") +
                 f" ({m.get('cpus')} CPUs, Docker {(m.get('docker') or {}).get('server')}, {mode})", fontsize=10)
    ax.set_xlabel("pods (gitkube and SDK: 2 containers each)")
    ax.set_ylabel("seconds (median)")
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / f"converge_{phase}-{mode}.png"
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def _ratios(doc: dict, out: Path, mode: str) -> str | None:
    import matplotlib.pyplot as plt

    rows = [(f"{name}: {c['what']}" + (f" vs {c['peer']}" if c.get("peer") not in ("target", "")
                                       and c["peer"] not in c["what"] else ""),
             c["ratio"], c["target"], bool(c.get("higher_is_better")), c.get("met"))
            for name, b in doc["benchmarks"].items() for c in b.get("comparisons") or []
            if c.get("target") and c.get("ratio") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1.2), dpi=110)
    labels = [r[0] if len(r[0]) < 70 else r[0][:67] + "…" for r in rows]
    # plot "share of the budget used": ratio/target for lower-is-better, target/ratio for higher
    used = [(t / r if hib else r / t) if r else 0 for _, r, t, hib, _ in rows]
    colors = ["#2ca02c" if met else "#d62728" for *_, met in rows]
    ax.barh(range(len(rows)), used, color=colors)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("share of the target used (≤ 1 = target met)")
    for i, u in enumerate(used):
        ax.annotate(f"{u:.2f}", (u, i), xytext=(3, -3), textcoords="offset points", fontsize=7)
    ax.set_title(f"Targets ({mode} run)", fontsize=10)
    fig.tight_layout()
    path = out / f"ratios-{mode}.png"
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def make_all(doc: dict, out: Path, mode: str) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    made = {}
    for title, fn in (("time to all Running vs pods", lambda: _converge(doc, "up", out, mode)),
                      ("time to zero vs pods", lambda: _converge(doc, "down", out, mode)),
                      ("targets", lambda: _ratios(doc, out, mode))):
        path = fn()
        if path:
            made[title] = path
    return made
