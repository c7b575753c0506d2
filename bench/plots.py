"""PNG plots for docs/benchmarks.md and the README (matplotlib, no display needed).

latency(out_dir)              one plot per samples file a benchmark left
                              (bench.docs_section.save_samples): the latency
                              distribution of each series as an ECDF, log-scaled
cost_curves(curves, path)     monthly cost vs users, one line per provider and polling
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend

from bench.docs_section import SAMPLES  # noqa: E402


def latency(out_dir: Path, samples: Path = SAMPLES) -> list[Path]:
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted(samples.glob("*.json")) if samples.exists() else []:
        found = json.loads(source.read_text())
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, values in found["series"].items():
            ordered = sorted(values)
            if not ordered:
                continue
            n = len(ordered)
            ax.step(ordered, [(i + 1) / n for i in range(n)], where="post", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("fraction of events at or below")
        load = f", load {found['load']:.1f}" if "load" in found else ""
        ax.set_title(f"{found['title']} ({found['date']}{load})", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        path = out_dir / f"latency-{source.stem}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def cost_curves(curves: dict[str, dict[str, list[tuple[int, float]]]], path: Path) -> Path:
    """`curves`: {panel title: {line label: [(users, usd/month)]}}, one panel per entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4.5), squeeze=False)
    for ax, (title, lines) in zip(axes[0], curves.items(), strict=True):
        for label, points in lines.items():
            style = "--" if label.startswith("polling") else "-"
            ax.plot([u for u, _ in points], [c for _, c in points], style, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("concurrent users")
        ax.set_ylabel("USD per month")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
