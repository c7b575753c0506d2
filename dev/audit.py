"""`make lint`'s dependency audit: pip-audit over the virtualenv, `npm audit` over package-lock.

    python -m dev.audit

A known vulnerability fails (exit 1) and is listed. Where an auditor cannot reach its
vulnerability data (no network, a registry mirror without the advisory endpoints, a package
index that does not know the packages) the audit of that ecosystem is skipped with a message
saying so; lack of network never fails the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180
UNREACHABLE = (
    "ConnectionError",
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "ECONNRESET",
    "audit endpoint returned an error",
    "Method Not Allowed",
)


@dataclass(frozen=True)
class Verdict:
    tool: str
    ok: bool
    message: str


def unreachable(text: str) -> bool:
    return any(marker in text for marker in UNREACHABLE)


def python_audit() -> Verdict:
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "-f", "json"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return Verdict("pip-audit", True, f"skipped: no answer in {TIMEOUT_S} s (offline?)")
    try:
        report = json.loads(run.stdout)
    except ValueError:
        if unreachable(run.stderr):
            return Verdict("pip-audit", True, "skipped: the vulnerability service is unreachable")
        return Verdict("pip-audit", False, f"failed: {run.stderr.strip()[-2000:]}")
    return pip_verdict(report)


def pip_verdict(report: dict[str, Any]) -> Verdict:
    """What pip-audit's JSON report means for the build."""
    packages = report.get("dependencies", [])
    audited = [p for p in packages if "skip_reason" not in p]
    vulnerable = [p for p in audited if p.get("vulns")]
    if vulnerable:
        lines = [
            f"  {p['name']} {p['version']}: "
            + ", ".join(f"{v['id']} (fixed in {', '.join(v.get('fix_versions') or ['?'])})"
                        for v in p["vulns"])
            for p in vulnerable
        ]  # fmt: skip
        return Verdict("pip-audit", False, "known vulnerabilities:\n" + "\n".join(lines))
    if not audited:
        return Verdict(
            "pip-audit",
            True,
            f"skipped: the package index answered without vulnerability data for all "
            f"{len(packages)} packages (a mirror?); nothing was audited",
        )
    skipped = len(packages) - len(audited)
    note = f" ({skipped} not known to the index)" if skipped else ""
    return Verdict("pip-audit", True, f"{len(audited)} packages, no known vulnerability{note}")


def npm_audit() -> Verdict:
    try:
        run = subprocess.run(
            ["npm", "audit", "--json"], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT
        )
    except FileNotFoundError:
        return Verdict("npm audit", True, "skipped: npm is not installed")
    except subprocess.TimeoutExpired:
        return Verdict("npm audit", True, f"skipped: no answer in {TIMEOUT_S} s (offline?)")
    try:
        report = json.loads(run.stdout or "{}")
    except ValueError:
        report = {}
    counts = report.get("metadata", {}).get("vulnerabilities")
    if counts is None:
        if unreachable(run.stdout + run.stderr) or "statusCode" in report:
            return Verdict(
                "npm audit", True, "skipped: the registry's audit endpoint is unreachable"
            )
        return Verdict("npm audit", False, f"failed: {(run.stdout + run.stderr).strip()[-2000:]}")
    serious = {level: n for level, n in counts.items() if level in ("high", "critical") and n}
    if serious:
        names = ", ".join(sorted(report.get("vulnerabilities", {})))
        return Verdict("npm audit", False, f"known vulnerabilities {serious}: {names}")
    return Verdict("npm audit", True, f"no high or critical vulnerability ({counts})")


def main() -> int:
    verdicts = [python_audit(), npm_audit()]
    for verdict in verdicts:
        print(f"{verdict.tool}: {verdict.message}")
    return 0 if all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
