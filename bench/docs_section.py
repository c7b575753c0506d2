"""Write one benchmark's section of docs/benchmarks.md between its own markers, leaving the
other sections alone (appended the first time)."""

from __future__ import annotations

import datetime
import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from bench.machine import describe

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
MACHINE = describe()
"""Read from the system when the benchmark runs (bench.machine)."""
DATE = datetime.date.today().isoformat()
"""The day the figures are measured (today)."""
LOAD = [os.getloadavg()[0]]
"""The 1-minute load average when the benchmark started (set again by each main())."""


SAMPLES = ROOT / ".data" / "bench" / "samples"
"""Raw latency samples a benchmark leaves for bench.plots (one JSON file per benchmark)."""


def save_samples(name: str, title: str, series: dict[str, Sequence[float]]) -> Path:
    """Keep a benchmark's latency samples ({label: ms values}) for the distribution plots."""
    SAMPLES.mkdir(parents=True, exist_ok=True)
    path = SAMPLES / f"{name}.json"
    body = {
        "title": title,
        "date": DATE,
        "load": LOAD[0],
        "series": {k: list(v) for k, v in series.items()},
    }
    path.write_text(json.dumps(body))
    return path


def note_load() -> None:
    LOAD[0] = os.getloadavg()[0]


def replace_section(name: str, body: str, *, doc: Path = DOC) -> Path:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.strip()}\n{end}\n"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return doc


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
