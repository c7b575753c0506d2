"""Lambda events shaped as AWS sends them, and a Lambda runtime stand-in that invokes a handler
on one long-lived thread, as the real runtime does (one invocation at a time).

    http_v2(...)        API Gateway HTTP API, payload format 2.0 (cookies apart from headers)
    function_url(...)   a Lambda function URL (payload 2.0, the lambda-url domain)
    rest_v1(...)        API Gateway REST API, payload 1.0 (headers and multiValueHeaders)
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx

Event = dict[str, Any]


def _body(body: bytes, encode: bool) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if encode:
        return base64.b64encode(body).decode(), True
    return body.decode(), False


def http_v2(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    cookies: Sequence[str] = (),
    body: bytes = b"",
    base64_body: bool = False,
    domain: str = "r4nd0m1d.execute-api.eu-west-1.amazonaws.com",
) -> Event:
    text, encoded = _body(body, base64_body)
    now = time.time()
    event: Event = {
        "version": "2.0",
        "routeKey": f"ANY {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": domain,
            "user-agent": "aws-test/1.0",
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "aws-test/1.0",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"ANY {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parse_qs(query).items()}
    if cookies:
        event["cookies"] = list(cookies)
    if text is not None:
        event["body"] = text
    return event


def function_url(method: str, path: str, **kwargs: Any) -> Event:
    event = http_v2(method, path, domain="abcdefg1234.lambda-url.eu-west-1.on.aws", **kwargs)
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    return event


def rest_v1(
    method: str,
    path: str,
    *,
    query: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, Sequence[str]] | None = None,
    body: bytes = b"",
    base64_body: bool = False,
    resource: str | None = None,
) -> Event:
    text, encoded = _body(body, base64_body)
    multi = {
        "Host": ["r4nd0m1d.execute-api.eu-west-1.amazonaws.com"],
        "X-Forwarded-For": ["203.0.113.9"],
        "X-Forwarded-Proto": ["https"],
        **{k: list(v) for k, v in (headers or {}).items()},
    }
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": {k: list(v) for k, v in query.items()}
        if query
        else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r4nd0m1d",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "aws-test/1.0"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": uuid.uuid4().hex,
            "resourcePath": resource or path,
            "stage": "prod",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="sockless-ApiFunction",
        memory_limit_in_mb=1024,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:sockless",
        get_remaining_time_in_millis=lambda: 30_000,
    )


class Runtime:
    """Invokes a Lambda handler on one thread of its own, as the Lambda runtime does."""

    def __init__(self, handler: Callable[[Event, Any], Event]) -> None:
        self.handler = handler
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda")

    def invoke(self, event: Event) -> Event:
        return self._thread.submit(self.handler, event, context()).result(timeout=60)

    def close(self) -> None:
        shutdown = getattr(self.handler, "shutdown", None)
        if shutdown is not None:
            self._thread.submit(shutdown).result(timeout=30)
        self._thread.shutdown(wait=True)


def response_body(response: Event) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def response_json(response: Event) -> Any:
    return json.loads(response_body(response))


def without_request_id(data: Any) -> Any:
    """An answer minus what differs per request (error bodies carry the request id)."""
    if isinstance(data, dict):
        return {k: without_request_id(v) for k, v in data.items() if k != "requestId"}
    if isinstance(data, list):
        return [without_request_id(item) for item in data]
    return data


def vercel_json(response: httpx.Response) -> Any:
    return without_request_id(response.json())
