"""Schemathesis against a running stack: every operation of /api/openapi.json, positive and
negative inputs, as a signed-in user and as nobody. Shared by tests/fuzz (a bounded sample in
`make test`, >= 10,000 requests with FULL=1) and bench.reliability (the figures).

Each generated request is sent over real HTTP to the stack's api and checked by schemathesis:
`not_a_server_error` (no 5xx), `status_code_conformance`, `content_type_conformance` and
`response_schema_conformance` (the body matches the documented success schema or error
shape: `Error`, or the tRPC envelope `TrpcError`). Failures are collected, not raised, so one
run reports every kind it found.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from dev.stack import Stack
from dev.token import user_token

CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass
class Failure:
    operation: str
    kind: str
    status: int
    detail: str


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    operations: int = 0
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def shape_mismatches(self) -> list[Failure]:
        return [f for f in self.failures if f.kind != "not_a_server_error"]

    def summary(self) -> str:
        kinds = Counter(f"{f.operation} {f.kind} {f.status}" for f in self.failures)
        lines = [f"{n}x {key}: {self._example(key)}" for key, n in kinds.most_common(20)]
        return "\n".join(lines)

    def _example(self, key: str) -> str:
        for failure in self.failures:
            if f"{failure.operation} {failure.kind} {failure.status}" == key:
                return failure.detail[:600]
        return ""


def openapi_document(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.api_url}/api/openapi.json", timeout=30)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def run(stack: Stack, *, examples: int, user: str = "fuzz-user") -> Tally:
    """`examples` generated cases per operation and mode (positive, negative), each sent once
    with a valid user token and once without."""
    schema = schemathesis.openapi.from_dict(openapi_document(stack))
    checks = [getattr(schemathesis.checks, name) for name in CHECK_NAMES]
    token = user_token(stack.config.jwt_secret, sub=user)
    tally = Tally()
    started = time.monotonic()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            tally.operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, examples, stack, session, checks, token, tally)
    tally.seconds = time.monotonic() - started
    return tally


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    stack: Stack,
    session: requests.Session,
    checks: list[Any],
    token: str,
    tally: Tally,
) -> None:
    headers = _auth_headers(operation.path, stack, token)

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        for auth in (headers, {}):
            _send(case, auth, stack, session, checks, tally)

    # A negative mode with nothing to break (no parameters) is unsatisfiable: nothing to send.
    with contextlib.suppress(Unsatisfiable):
        one()


def _auth_headers(path: str, stack: Stack, token: str) -> dict[str, str]:
    if path.startswith("/api/cron/"):
        return {"authorization": f"Bearer {stack.config.cron_secret}"}
    return {"authorization": f"Bearer {token}"}


def _send(
    case: Any,
    auth: dict[str, str],
    stack: Stack,
    session: requests.Session,
    checks: list[Any],
    tally: Tally,
) -> None:
    generated = dict(case.headers or {})
    if auth:  # the user's token replaces any generated Authorization
        generated = {k: v for k, v in generated.items() if k.lower() != "authorization"}
    sent = {**generated, **auth}
    try:
        response = case.call(base_url=stack.api_url, session=session, headers=sent, timeout=30)
    except requests.RequestException as exc:
        tally.requests += 1
        tally.failures.append(Failure(case.operation.label, "transport", 0, repr(exc)))
        return
    tally.requests += 1
    tally.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=checks)
    except (AssertionError, BaseExceptionGroup) as exc:
        found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        for failure in found:
            kind = ",".join(getattr(failure, "checks", ())) or type(failure).__name__
            detail = f"{case.as_curl_command()}\n-> {response.status_code} {response.text[:400]}"
            tally.failures.append(
                Failure(case.operation.label, kind, response.status_code, f"{failure}\n{detail}")
            )
