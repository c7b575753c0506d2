"""The benchmark suite's own wiring, without running a benchmark: every bench module with a
main() is in the registry (or is a part another runs), QUICK never writes docs/, and the
machine is read from this system rather than typed in."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from bench.docs_section import MACHINE
from bench.machine import facts
from bench.registry import BENCHMARKS

BENCH = Path(__file__).resolve().parents[1] / "bench"
PARTS = {"realtime_fanout", "realtime_idle_memory", "realtime_batch_throughput"}
"""Run by bench.realtime_report, which is registered."""


def modules_with_main() -> set[str]:
    found = set()
    for path in BENCH.glob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            found.add(path.stem)
    return found - {"__main__"}


def test_every_benchmark_is_registered_once():
    registered = [b.module for b in BENCHMARKS]
    assert len(registered) == len(set(registered))
    assert modules_with_main() - PARTS == set(registered)


def test_a_quick_run_passes_small_counts_and_never_writes_docs():
    for bench in BENCHMARKS:
        quick = bench.argv(quick=True)
        assert "--write" not in quick, bench.module
        assert ("--no-write" in quick) == bench.writes_by_default, bench.module
        assert "--no-write" not in bench.argv(quick=False), bench.module


def test_the_machine_is_read_from_this_system():
    machine = facts()
    assert machine["cores"] == os.cpu_count()
    assert f"{os.cpu_count()} cores" in MACHINE
    assert str(machine["cpu"]) in MACHINE and machine["cpu"]
    assert isinstance(machine["memory_gib"], float) and machine["memory_gib"] > 0


def test_every_plot_the_readme_and_benchmarks_embed_exists():
    root = BENCH.parent
    for doc, base in ((root / "README.md", root), (root / "docs" / "benchmarks.md", root / "docs")):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", doc.read_text()):
            assert (base / target).is_file(), f"{doc.name} embeds {target}, which is missing"
