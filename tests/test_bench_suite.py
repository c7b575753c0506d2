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


def test_the_suite_section_names_the_machine_the_load_and_every_outcome(tmp_path: Path):
    from bench.__main__ import suite_section

    ran = [(BENCHMARKS[0], "ok", 12.3), (BENCHMARKS[1], "failed: OSError: port taken", 1.0)]
    image = tmp_path / "latency-x.png"
    text = suite_section(ran, (1.5, 2.25), "2026-12-01 10:00 UTC", [image])
    machine = facts()
    assert f"CPU {machine['cpu']}, {machine['cores']} cores" in text
    assert "1.50 before and 2.25 after" in text
    assert f"| `bench.{BENCHMARKS[0].module}` | {BENCHMARKS[0].compares} | ok | 12 s |" in text
    assert "failed: OSError: port taken" in text
    assert "![latency-x](img/latency-x.png)" in text


def test_a_quick_run_of_one_benchmark_through_the_suite_leaves_docs_alone():
    from bench.__main__ import main

    docs = BENCH.parent / "docs"
    before = {p: p.stat().st_mtime_ns for p in docs.rglob("*") if p.is_file()}
    assert main(["--quick", "cost_curves"]) == 0
    assert before == {p: p.stat().st_mtime_ns for p in docs.rglob("*") if p.is_file()}
