"""Cold start of the AWS Lambda handler (aws.handler): a fresh Python process until its first
answer, beside a naive Lambda that imports every api/ function before the first request and
beside the one Vercel function the request needs, in the same run.

    python -m bench.lambda_cold_start [--repeat 15] [--no-write]

Each sample starts `python` anew (the Lambda runtime's init + first invoke on our side of the
boundary), builds the handler and invokes it with an API Gateway HTTP API (v2) event for
GET /api/realtime/history without a token: 401 from every variant, no network. Then it invokes
the warm handler 20 times more (the answer a warm instance gives).
- ours: `aws.handler.handler` as deployed (Mangum, vercel.json routing, the function imported
  on its first request);
- eager mount: the same handler with every api/ function imported (and started) first, what a
  one-app Lambda that mounts its functions up front pays;
- Vercel function alone: bench.cold_start's child for api/realtime/history.py (one function,
  no routing, no Mangum): what the same request costs cold on Vercel's side of the boundary.
"""

from __future__ import annotations

import argparse
import sys

from bench.cold_start import CHILD as VERCEL_CHILD
from bench.cold_start import OURS as HISTORY
from bench.cold_start import ROOT, sample
from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, percentile, replace_section

CHILD = r"""
import asyncio, json, statistics, sys, time
root, mode = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from types import SimpleNamespace
from aws.handler import LambdaHandler

handler = LambdaHandler()
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/api/realtime/history",
         "rawQueryString": "channel=private-user-1", "headers": {"host": "fn.example"},
         "requestContext": {"http": {"method": "GET", "path": "/api/realtime/history",
                                     "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9"},
                            "requestId": "bench", "stage": "$default"},
         "isBase64Encoded": False}
context = lambda: SimpleNamespace(aws_request_id="bench")
if mode == "eager":
    handler._adapter = handler._build()
    functions, project = handler._app.functions, handler._app.project
    loop = asyncio.get_event_loop()
    for function in project.functions:
        loop.run_until_complete(functions.app(function.path))
status = handler(event, context())["statusCode"]
warm = []
for _ in range(20):
    started = time.perf_counter()
    handler(event, context())
    warm.append((time.perf_counter() - started) * 1000)
print("RESULT " + json.dumps({"status": status, "modules": len(sys.modules),
                              "warm_ms": statistics.median(warm)}))
"""


def run(repeat: int) -> dict[str, dict[str, object]]:
    lambda_child, vercel_child = [sys.executable, "-c", CHILD], [sys.executable, "-c", VERCEL_CHILD]
    variants = {
        "ours (aws.handler, lazy functions)": [*lambda_child, str(ROOT), "lazy"],
        "eager mount (every api/ function first)": [*lambda_child, str(ROOT), "eager"],
        "Vercel: api/realtime/history.py alone": [*vercel_child, str(ROOT), str(HISTORY)],
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
        "## AWS Lambda: cold start of the handler (fresh process -> first answer)",
        "",
        f"machine: `{MACHINE}`, date {DATE}, {repeat} samples each, interleaved, same run, "
        f"1-minute load average at start {LOAD[0]:.2f} (the machine is shared)",
        "",
        "| variant | p50 | p90 | response | modules loaded | warm invoke p50 |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        times = result["ms"]
        assert isinstance(times, list)
        warm = result.get("warm_ms")
        lines.append(
            f"| {name} | {median(times):.0f} ms | {percentile(times, 90):.0f} ms | "
            f"{result.get('status', '-')} | {result.get('modules', '-')} | "
            f"{f'{warm:.2f} ms' if isinstance(warm, float) else '-'} |"
        )
    lines += [
        "",
        "`python -m bench.lambda_cold_start`: each sample is a new `python` process that builds "
        "the Lambda handler and invokes it with an HTTP API (v2) event, GET "
        "/api/realtime/history without a token (401, no network), then 20 warm invocations. "
        "The eager row imports every api/ function before the first request; the Vercel row "
        "is bench.cold_start's single function. AWS adds its own runtime init (and the code "
        "package download) to every row.",
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
        print(f"wrote {replace_section('lambda-cold-start', text)}")


if __name__ == "__main__":
    main()
