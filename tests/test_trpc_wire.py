"""The tRPC wire over raw HTTP against the local stack (Vercel emulation -> api/trpc.py):
URL and input encoding, HEAD, batching, status codes, limits, and that no request, however
malformed, gets a bare 500 or anything but a tRPC envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dev.stack import Stack
from tests.support import stack_services, unique
from tests.trpc_testing import TEST_ROUTER, serve

VARY = "trpc-accept, accept"


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    """The deployed procedures plus the test-only `testing.echo`, served like api/trpc.py."""
    with (
        serve(TEST_ROUTER, stack_services(stack)) as url,
        httpx.Client(base_url=url, timeout=20) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> Iterator[httpx.Client]:
    """api/trpc.py itself, behind the Vercel emulation (vercel.json rewrites and headers)."""
    with httpx.Client(base_url=f"{stack.api_url}/api/trpc", timeout=20) as client:
        yield client


def q(value: Any) -> str:
    """?input= as @trpc/client writes it: encodeURIComponent(JSON.stringify(value))."""
    return quote(json.dumps(value, separators=(",", ":")), safe="-_.!~*'()")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def error_of(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], int) and isinstance(error["message"], str)
    return error


ECHO = {"message": "hi", "count": 2, "tags": [{"name": "a", "weight": 5}]}


# -- single calls ---------------------------------------------------------------------------------


def test_query_by_get_without_input(deployed: httpx.Client) -> None:
    response = deployed.get("/system.health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == VARY
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"  # vercel.json headers rule
    data = response.json()["result"]["data"]
    assert data["status"] == "ok" and data["version"] and data["time"].endswith("Z")


@pytest.mark.parametrize("path", ["system.echo", "testing.echo"])
def test_test_only_procedures_are_not_deployed(deployed: httpx.Client, path: str) -> None:
    response = deployed.post(f"/{path}", json=ECHO, headers={"x-forwarded-for": unique("ip")})
    assert response.status_code == 404
    assert error_of(response.json())["data"]["code"] == "NOT_FOUND"
    listed = {p["path"] for p in deployed.get("").json()["procedures"]}
    assert "system.health" in listed and path not in listed


def test_mutation_by_post_json(http: httpx.Client) -> None:
    response = http.post("/testing.echo", json=ECHO, headers={"x-forwarded-for": unique("ip")})
    assert response.status_code == 200
    data = response.json()["result"]["data"]
    assert data == {
        "input": {"message": "hi", "count": 2, "tags": [{"name": "a", "weight": 5}]},
        "repeated": "hi hi",
        "totalWeight": 5,
    }


def test_get_input_is_url_encoded_json(http: httpx.Client, token: Any) -> None:
    user = f"u=1;a@b,c.{unique('x')}"  # channel characters that mean something in URLs
    channel = f"private-user-{user}"
    response = http.get(
        f"/events.since?input={q({'channel': channel, 'after': '0'})}",
        headers=bearer(token(user)),
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["data"] == {
        "channel": channel,
        "events": [],
        "next": "0",
        "more": False,
    }


def test_absent_input_is_undefined(http: httpx.Client, token: Any) -> None:
    response = http.get("/events.since", headers=bearer(token(unique("u"))))
    assert response.status_code == 400
    error = error_of(response.json())
    assert error["data"]["code"] == "BAD_REQUEST"
    assert error["data"]["zodError"]["formErrors"]  # the input as a whole is missing


def test_head_is_204_without_body(http: httpx.Client) -> None:
    for path in ("/system.health", "/testing.echo", "/nope", ""):
        response = http.head(path)
        assert response.status_code == 204
        assert response.content == b""


def test_listing_has_json_schemas(http: httpx.Client) -> None:
    body = http.get("").json()
    by_path = {p["path"]: p for p in body["procedures"]}
    assert {"system.health", "system.whoami", "testing.echo", "events.since"} <= set(by_path)
    echo = by_path["testing.echo"]
    assert echo["kind"] == "mutation" and echo["auth"] is False
    assert echo["rateLimit"] == {"limit": 30, "windowS": 60}
    name = echo["input"]["$ref"].rsplit("/", 1)[-1]
    assert body["$defs"][name]["properties"]["message"]["maxLength"] == 200
    assert by_path["system.whoami"]["auth"] is True and by_path["system.whoami"]["input"] is None


# -- batches --------------------------------------------------------------------------------------


def test_batch_of_queries(http: httpx.Client, token: Any) -> None:
    user = unique("u")
    paths = "system.health,system.whoami,events.since"
    inputs = {"2": {"channel": f"private-user-{user}"}}
    response = http.get(f"/{paths}?batch=1&input={q(inputs)}", headers=bearer(token(user)))
    assert response.status_code == 200
    health, whoami, since = response.json()
    assert health["result"]["data"]["status"] == "ok"
    assert whoami["result"]["data"] == {
        "userId": user,
        "provider": "supabase",
        "email": f"{user}@example.test",
    }
    assert since["result"]["data"]["events"] == []


def test_batch_of_mutations_with_one_failure_is_207(http: httpx.Client) -> None:
    body = {"0": ECHO, "1": {"message": ""}}
    response = http.post(
        "/testing.echo,testing.echo?batch=1", json=body, headers={"x-forwarded-for": unique("ip")}
    )
    assert response.status_code == 207
    ok, failed = response.json()
    assert ok["result"]["data"]["repeated"] == "hi hi"
    error = error_of(failed)
    assert error["data"]["code"] == "BAD_REQUEST" and error["data"]["path"] == "testing.echo"
    assert "message" in error["data"]["zodError"]["fieldErrors"]


def test_unknown_procedure_in_batch_fails_alone(http: httpx.Client) -> None:
    response = http.get("/system.health,system.nope?batch=1")
    assert response.status_code == 207
    ok, missing = response.json()
    assert ok["result"]["data"]["status"] == "ok"
    error = error_of(missing)
    assert error["code"] == -32004
    assert error["data"] == {"code": "NOT_FOUND", "httpStatus": 404, "path": "system.nope"} | {
        k: v for k, v in error["data"].items() if k == "stack"
    }
    assert error["message"] == 'No procedure found on path "system.nope"'


def test_mixing_queries_and_mutations_is_a_request_error(http: httpx.Client) -> None:
    response = http.post("/system.health,testing.echo?batch=1", json={"1": ECHO})
    assert response.status_code == 400
    error = error_of(response.json())  # not an array: the client applies it to every call
    assert error["message"] == "Cannot mix procedure types in call: query, mutation"
    assert "path" not in error["data"]


def test_batch_size_is_limited(http: httpx.Client) -> None:
    assert http.get(f"/{','.join(['system.health'] * 50)}?batch=1").status_code == 200
    response = http.get(f"/{','.join(['system.health'] * 51)}?batch=1")
    assert response.status_code == 400
    assert "maximum size" in error_of(response.json())["message"]


def test_batch_input_must_be_an_object(http: httpx.Client, token: Any) -> None:
    response = http.get(f"/events.since?batch=1&input={q([1])}", headers=bearer(token("u")))
    assert response.status_code == 400
    [item] = response.json()
    assert "needs to be an object" in error_of(item)["message"]


# -- v10 clients ----------------------------------------------------------------------------------


def test_v10_style_requests(http: httpx.Client, token: Any) -> None:
    user = unique("u")
    # v10 (and v11 before 11.5.1) sent content-type: application/json on GET too.
    json_ct = {"content-type": "application/json"}
    inputs = q({"1": {"channel": f"private-user-{user}"}})
    response = http.get(
        f"/system.whoami,events.since?batch=1&input={inputs}",
        headers=json_ct | bearer(token(user)),
    )
    assert response.status_code == 200
    assert [
        item["result"]["data"]["userId" if i == 0 else "next"]
        for i, item in enumerate(response.json())
    ] == [user, "0"]
    # An explicit null input for a procedure that takes none is ignored.
    response = http.get(f"/system.health?input={q(None)}", headers=json_ct)
    assert response.status_code == 200
    # A mutation without a content-type is refused (v10 servers read it as JSON): with the
    # session cookie, that is a cross-site post no preflight asks about (tests/test_csrf.py).
    response = http.post(
        "/testing.echo",
        content=json.dumps(ECHO),
        headers={"x-forwarded-for": unique("ip")},
    )
    assert response.status_code == 415
    assert response.json()["error"]["data"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


# -- malformed input ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["{bad", "NaN", '{"message": Infinity}', "[" * 5000, "'x'"])
def test_bad_json_is_bad_request(http: httpx.Client, raw: str) -> None:
    response = http.post(
        "/testing.echo",
        content=raw,
        headers={"content-type": "application/json", "x-forwarded-for": unique("ip")},
    )
    assert response.status_code == 400, response.text
    error = error_of(response.json())
    assert error["code"] == -32600 and error["data"]["code"] == "BAD_REQUEST"  # v11 semantics
    assert error["data"]["path"] == "testing.echo"


def test_bad_json_in_a_batch_fails_every_call(http: httpx.Client, token: Any) -> None:
    response = http.get(
        f"/events.since,events.since?batch=1&input={quote('{nope')}",
        headers=bearer(token(unique("u"))),
    )
    assert response.status_code == 400
    assert [error_of(item)["data"]["code"] for item in response.json()] == ["BAD_REQUEST"] * 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "message"),
        ({"message": 5}, "message"),
        ({"message": "x" * 201}, "message"),
        ({"message": "x", "count": "many"}, "count"),
        ({"message": "x", "count": 11}, "count"),
        ({"message": "x", "count": 1.5}, "count"),
        ({"message": "x", "tags": "a"}, "tags"),
        ({"message": "x", "tags": [{"name": "n" * 41}]}, "tags.0.name"),
        ({"message": "x", "tags": [{"name": "n", "weight": -1}]}, "tags.0.weight"),
        ({"message": "x", "tags": [{"name": "n"}] * 21}, "tags"),
        ({"message": "x", "colour": "red"}, "colour"),
    ],
)
def test_invalid_input_names_the_field(
    http: httpx.Client, payload: dict[str, Any], field: str
) -> None:
    response = http.post("/testing.echo", json=payload, headers={"x-forwarded-for": unique("ip")})
    assert response.status_code == 400
    error = error_of(response.json())
    assert error["data"]["code"] == "BAD_REQUEST"
    assert error["message"].startswith("invalid input: ")
    assert list(error["data"]["zodError"]["fieldErrors"]) == [field]


@pytest.mark.parametrize("payload", [None, [], "hello", 42])
def test_input_of_the_wrong_shape(http: httpx.Client, payload: Any) -> None:
    # json=None sends no body; the official clients still say application/json
    headers = {"x-forwarded-for": unique("ip"), "content-type": "application/json"}
    response = http.post("/testing.echo", json=payload, headers=headers)
    assert response.status_code == 400
    zod = error_of(response.json())["data"]["zodError"]
    assert zod["formErrors"] and zod["fieldErrors"] == {}


def test_huge_strings(http: httpx.Client, token: Any) -> None:
    ip = {"x-forwarded-for": unique("ip")}
    # Within the body limit but over the field's: a validation error naming the field.
    response = http.post("/testing.echo", json={"message": "x" * 500_000}, headers=ip)
    assert response.status_code == 400
    assert list(error_of(response.json())["data"]["zodError"]["fieldErrors"]) == ["message"]
    # Over the 1 MiB body limit: PAYLOAD_TOO_LARGE for the whole request.
    response = http.post("/testing.echo", json={"message": "x" * 1_100_000}, headers=ip)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == -32013 and error["data"]["code"] == "PAYLOAD_TOO_LARGE"
    # The same without a content-length (chunked): still refused.
    response = http.post(
        "/testing.echo",
        content=iter([b'{"message": "', b"x" * 1_100_000, b'"}']),
        headers=ip | {"content-type": "application/json"},
    )
    assert response.status_code == 413
    # A long query input: refused by the field's max length, not the transport.
    user = unique("u")
    response = http.get(
        f"/events.since?input={q({'channel': 'c' * 6000})}", headers=bearer(token(user))
    )
    assert response.status_code == 400
    assert "channel" in error_of(response.json())["data"]["zodError"]["fieldErrors"]


def test_unsupported_content_type(http: httpx.Client) -> None:
    response = http.post(
        "/testing.echo",
        content=b"message=hi",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["data"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


# -- methods and auth -----------------------------------------------------------------------------


def test_wrong_method(http: httpx.Client) -> None:
    response = http.get("/testing.echo")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    error = error_of(response.json())
    assert error["code"] == -32005 and error["data"]["code"] == "METHOD_NOT_SUPPORTED"
    response = http.post("/system.health", headers={"content-type": "application/json"})
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    for method in ("PUT", "PATCH", "DELETE"):
        response = http.request(method, "/testing.echo", json=ECHO)
        assert response.status_code == 405, method
        assert error_of(response.json())["data"]["code"] == "METHOD_NOT_SUPPORTED"


def test_unauthorized(http: httpx.Client, stack: Stack, token: Any) -> None:
    cases = {
        "missing": {},
        "garbage": bearer("not-a-jwt"),
        "basic": {"authorization": "Basic dTpw"},
        "expired": bearer(token(unique("u"), ttl_s=-3600)),
    }
    for name, headers in cases.items():
        response = http.get("/system.whoami", headers=headers)
        assert response.status_code == 401, name
        error = error_of(response.json())
        assert error["code"] == -32001 and error["data"]["code"] == "UNAUTHORIZED", name
    # A public procedure with a bad token still answers (as an anonymous caller).
    assert http.get("/system.health", headers=bearer("not-a-jwt")).status_code == 200


def test_rate_limit_is_429_with_retry_after(http: httpx.Client) -> None:
    ip = {"x-forwarded-for": unique("ip")}
    statuses = [http.post("/testing.echo", json=ECHO, headers=ip).status_code for _ in range(30)]
    assert statuses == [200] * 30
    response = http.post("/testing.echo", json=ECHO, headers=ip)
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    error = error_of(response.json())
    assert error["code"] == -32029 and error["data"]["code"] == "TOO_MANY_REQUESTS"
    assert error["data"]["retryAfter"] == retry_after
    # Other callers are not affected.
    other = {"x-forwarded-for": unique("ip")}
    assert http.post("/testing.echo", json=ECHO, headers=other).status_code == 200


# -- superjson ------------------------------------------------------------------------------------


def test_superjson_envelopes_are_answered_in_kind(http: httpx.Client) -> None:
    undefined = {"json": None, "meta": {"values": ["undefined"], "v": 1}}
    response = http.get(f"/system.health?input={q(undefined)}")
    assert response.status_code == 200
    assert response.json()["result"]["data"]["json"]["status"] == "ok"

    ip = {"x-forwarded-for": unique("ip")}
    sent = {
        "json": {"message": "hi", "count": "3", "tags": [{"name": "a", "weight": None}]},
        "meta": {"values": {"count": ["bigint"], "tags.0.weight": ["undefined"]}, "v": 1},
    }
    response = http.post("/testing.echo", json=sent, headers=ip)
    assert response.status_code == 200, response.text
    data = response.json()["result"]["data"]["json"]
    assert data["repeated"] == "hi hi hi" and data["input"]["tags"] == [{"name": "a", "weight": 1}]

    response = http.post("/testing.echo", json={"json": {"message": ""}}, headers=ip)
    assert response.status_code == 400
    shape = response.json()["error"]["json"]
    assert shape["code"] == -32600 and shape["data"]["path"] == "testing.echo"

    response = http.post(
        "/testing.echo,testing.echo?batch=1",
        json={"0": {"json": ECHO}, "1": {"json": {}}},
        headers=ip,
    )
    assert response.status_code == 207
    ok, failed = response.json()
    assert ok["result"]["data"]["json"]["totalWeight"] == 5
    assert failed["error"]["json"]["data"]["code"] == "BAD_REQUEST"


def test_request_errors_before_the_input_is_read_suit_both_transformers(
    http: httpx.Client,
) -> None:
    response = http.post("/testing.echo", json={"json": {"message": "x" * 1_100_000}})
    assert response.status_code == 413
    error = response.json()["error"]
    # readable by a plain client (error.code) and by superjson.deserialize (error.json)
    assert error["code"] == error["json"]["code"] == -32013


# -- never a bare 500 -----------------------------------------------------------------------------


GARBAGE: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/%ff%fe", {}),
    ("GET", "/system.health?batch=1&input=%7B", {}),
    ("GET", "/,,,?batch=1", {}),
    ("GET", "/system..health", {}),
    ("GET", "/" + "a" * 3000, {}),
    ("POST", "/testing.echo?batch=1", {"content": b"\xff\xfe\x00"}),
    ("POST", "/testing.echo", {"content": b'{"message": "\\ud800"}'}),
    (
        "POST",
        "/testing.echo",
        {"content": b"\x00" * 100, "headers": {"content-type": "application/json"}},
    ),
    ("POST", "/testing.echo", {"json": {"message": {"$gt": ""}}}),
    ("POST", "/testing.echo", {"content": b"1" * 5000}),
    ("OPTIONS", "/testing.echo", {}),
    ("POST", "", {"json": {}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), GARBAGE)
def test_never_a_bare_500(
    http: httpx.Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    headers = {"x-forwarded-for": unique("ip"), **kwargs.pop("headers", {})}
    response = http.request(method, path, headers=headers, **kwargs)
    assert response.status_code < 500, response.text
    body = response.json()
    items = body if isinstance(body, list) else [body]
    for item in items:
        assert "result" in item or isinstance(item["error"]["code"], int), item
