"""dev/audit.py (make lint): a known vulnerability fails; unreachable vulnerability data is a
skip with a message, never a failure."""

from __future__ import annotations

from dev.audit import pip_verdict, unreachable


def test_a_vulnerable_package_fails_and_is_named():
    report = {
        "dependencies": [
            {"name": "ok", "version": "1.0", "vulns": []},
            {
                "name": "bad",
                "version": "0.1",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["0.2"]}],
            },
        ]
    }
    verdict = pip_verdict(report)
    assert not verdict.ok
    assert "bad 0.1: PYSEC-1 (fixed in 0.2)" in verdict.message


def test_an_index_without_vulnerability_data_is_a_skip_not_a_pass():
    report = {"dependencies": [{"name": "x", "skip_reason": "Dependency not found on PyPI"}]}
    verdict = pip_verdict(report)
    assert verdict.ok and verdict.message.startswith("skipped")


def test_a_clean_audit_passes_and_says_how_many():
    verdict = pip_verdict({"dependencies": [{"name": "x", "version": "1", "vulns": []}]})
    assert verdict.ok and verdict.message.startswith("1 packages, no known vulnerability")


def test_network_failures_are_recognised():
    assert unreachable("npm error code ENOTFOUND")
    assert unreachable("Temporary failure in name resolution")
    assert not unreachable("found 2 high severity vulnerabilities")
