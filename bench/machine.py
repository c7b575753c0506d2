"""The machine a benchmark ran on, read from the system (never typed in by hand).

describe() -> "AMD EPYC 7B13, 2 cores, 24 GiB, Debian GNU/Linux 12 (bookworm)"
facts()    -> the same as a dict (cpu, cores, memory_gib, os, python)
"""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_gib() -> float:
    try:
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * size / 2**30, 1)
    return round(kib / 2**20, 1)


def _os() -> str:
    try:
        release = dict(
            line.partition("=")[::2] for line in Path("/etc/os-release").read_text().splitlines()
        )
        return release.get("PRETTY_NAME", "").strip('"') or platform.platform()
    except OSError:
        return platform.platform()


@cache
def facts() -> dict[str, str | int | float]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 1,
        "memory_gib": _memory_gib(),
        "os": _os(),
        "python": platform.python_version(),
    }


def describe() -> str:
    f = facts()
    return f"{f['cpu']}, {f['cores']} cores, {f['memory_gib']:g} GiB, {f['os']}"
