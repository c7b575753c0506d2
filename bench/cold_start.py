"""Cold start of a function: a fresh Python process until its first response, ours vs a function
that imports the heavy SDKs at top level (the seed plan's style), in the same run.

    python -m bench.cold_start [--repeat 15] [--no-write]

Each sample starts `python` anew, loads the function file the way Vercel's Python runtime (and
dev/vercel.py) does, and sends one ASGI request to its `app` in-process: GET
/api/realtime/history without a token, answered 401 by both (same code path, no network).
- ours: api/realtime/history.py as shipped (SDKs are imported where used, so this path loads
  neither supabase nor pusher);
- top-level SDKs: the same app in a file that first does `import supabase, pusher, httpx`.
  The seed plan also imported `stripe`; it is not installed here (and we install nothing new),
  so this variant understates the seed's cost by stripe's import time.
- bare interpreter: `python -c pass`, the floor both pay.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, percentile, replace_section

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "SOCKLESS_ENV": "production",
    "SUPABASE_URL": "https://bench.supabase.co",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role",
    "SUPABASE_JWT_SECRET": "j" * 40,
    "PUSHER_APP_ID": "1",
    "PUSHER_KEY": "key",
    "PUSHER_SECRET": "secret",
    "CRON_SECRET": "cron-secret",
    "NOTIFY_SMS_PROVIDER": "off",
    "NOTIFY_EMAIL_PROVIDER": "off",
}
"""A production environment lib.production accepts (nothing is contacted: the request is
answered 401 before any network call)."""
OURS = ROOT / "api" / "realtime" / "history.py"
HEAVY = '''"""The seed plan's style: SDK clients' packages imported at the top of the function."""

import httpx  # noqa: F401
import pusher  # noqa: F401
import supabase  # noqa: F401

from lib.features import services
from lib.realtime.history import history_endpoint
from lib.web import function

app = function(GET=history_endpoint, services=services)
'''
CHILD = r"""
import asyncio, importlib.util, json, sys
root, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
spec = importlib.util.spec_from_file_location("vercel_fn", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

async def first_response():
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "https", "path": "/api/realtime/history",
             "raw_path": b"/api/realtime/history", "query_string": b"channel=private-user-1",
             "root_path": "", "headers": [(b"host", b"fn.example")],
             "client": ("127.0.0.1", 1), "server": ("fn.example", 443)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await module.app(scope, receive, send)
    return sent[0]["status"]

status = asyncio.run(first_response())
loaded = [name for name in ("supabase", "pusher", "httpx", "jwt") if name in sys.modules]
print("RESULT " + json.dumps({"status": status, "modules": len(sys.modules), "loaded": loaded}))
"""


def sample(argv: list[str]) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/bin:/bin", **PRODUCTION_ENV},
    )  # fmt: skip
    elapsed = (time.perf_counter() - started) * 1000
    result: dict[str, object] = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    return elapsed, result


def run(repeat: int) -> dict[str, dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="sockless-cold-") as tmp:
        heavy = Path(tmp) / "history_with_top_level_sdks.py"
        heavy.write_text(HEAVY)
        variants = {
            "ours (api/realtime/history.py)": [sys.executable, "-c", CHILD, str(ROOT), str(OURS)],
            "top-level supabase + pusher + httpx": [
                sys.executable,
                "-c",
                CHILD,
                str(ROOT),
                str(heavy),
            ],  # fmt: skip
            "bare interpreter (python -c pass)": [sys.executable, "-c", "pass"],
        }
        results: dict[str, dict[str, object]] = {name: {"ms": []} for name in variants}
        for argv in variants.values():  # warm the OS file cache once, not measured
            sample(argv)
        for n in range(repeat):
            for name, argv in variants.items():
                elapsed, result = sample(argv)
                times = results[name]["ms"]
                assert isinstance(times, list)
                times.append(elapsed)
                results[name].update(result)
                print(f"[{n + 1}/{repeat}] {name}: {elapsed:.0f} ms {result}", flush=True)
    return results


def section(results: dict[str, dict[str, object]], repeat: int) -> str:
    lines = [
        "## Cold start: fresh process -> first response",
        "",
        f"machine: `{MACHINE}`, date {DATE}, {repeat} samples each, interleaved, same run, "
        f"1-minute load average at start {LOAD[0]:.2f} (the machine is shared)",
        "",
        "| function | p50 | p90 | response | modules loaded | SDKs in sys.modules |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        times = result["ms"]
        assert isinstance(times, list)
        loaded = result.get("loaded")
        lines.append(
            f"| {name} | {median(times):.0f} ms | {percentile(times, 90):.0f} ms | "
            f"{result.get('status', '-')} | {result.get('modules', '-')} | "
            f"{', '.join(loaded) if isinstance(loaded, list) else '-'} |"
        )
    lines += [
        "",
        "`python -m bench.cold_start`: each sample is a new `python` process that loads the "
        "function file as Vercel does and sends one ASGI request (GET /api/realtime/history, "
        "no token: 401 from both, no network). The second function is the same app with "
        "`import supabase, pusher, httpx` at the top; the seed plan also imported `stripe`, "
        "which is not installed here, so that row understates the seed's cost. Vercel adds "
        "its own runtime start to both.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    text = section(run(args.repeat), args.repeat)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('cold-start', text)}")


if __name__ == "__main__":
    main()
