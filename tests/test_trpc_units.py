"""The RPC layer without the stack: declaring procedures and routers, superjson envelopes, and
an inline trpc_app (httpx ASGITransport) for what the stack's procedures cannot show —
timeouts, a failing authenticator, production error bodies, another base path."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request

from lib.auth import Principal
from lib.config import load_settings
from lib.errors import ServiceUnavailable
from lib.rpc import Context, Limits, Procedure, Router, router, superjson, system, trpc_app
from lib.rpc.codes import CODES, http_status, jsonrpc_code
from lib.services import Services


class Out(BaseModel):
    value: int


async def returns(ctx: Context, input: Any) -> Out:
    return Out(value=1)


def proc(path: str, **kwargs: Any) -> Procedure:
    return Procedure(
        path=path, kind=kwargs.pop("kind", "query"), output=Out, handler=returns, **kwargs
    )


# -- declaring ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "poker.", ".vote", "poker vote", "poker,vote", "1poker"])
def test_procedure_paths_are_dotted_identifiers(path: str) -> None:
    with pytest.raises(ValueError, match="procedure path"):
        proc(path)


def test_procedure_kind_and_rate_limit_are_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        proc("a.b", kind="subscription")
    with pytest.raises(ValueError, match="rate_limit"):
        proc("a.b", rate_limit=(0, 60))


def test_router_refuses_duplicates_and_group_clashes() -> None:
    with pytest.raises(ValueError, match="two procedures"):
        router(proc("a.b"), proc("a.b"))
    with pytest.raises(ValueError, match="also the group"):
        router(proc("a"), proc("a.b"))
    app_router = router(proc("a.b"), proc("a.c"), proc("d"))
    assert [p.path for p in app_router] == ["a.b", "a.c", "d"] and "a.c" in app_router
    assert len(app_router) == 3 and app_router.get("a") is None


def test_code_table_matches_trpc() -> None:
    assert len(CODES) == 21
    assert (jsonrpc_code("NOT_IMPLEMENTED"), http_status("NOT_IMPLEMENTED")) == (-32603, 501)
    assert (jsonrpc_code("SOMETHING_ELSE"), http_status("SOMETHING_ELSE")) == (-32603, 500)


# -- superjson ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ({"json": None, "meta": {"values": ["undefined"], "v": 1}}, None),
        ({"json": "10", "meta": {"values": ["bigint"]}}, 10),
        (
            {
                "json": {"a": None, "b": "2", "x.y": "1970-01-01T00:00:00.000Z", "l": [None, 1]},
                "meta": {
                    "values": {
                        "a": ["undefined"],
                        "b": ["bigint"],
                        "x\\.y": ["Date"],
                        "l.0": ["undefined"],
                    }
                },
            },
            {"b": 2, "x.y": "1970-01-01T00:00:00.000Z", "l": [None, 1]},
        ),
        (
            {
                "json": {"m": [["k", 1]], "s": [1, 2]},
                "meta": {"values": {"m": ["map"], "s": ["set"]}},
            },
            {"m": {"k": 1}, "s": [1, 2]},
        ),
        ({"json": {"a": 1}, "meta": {"values": {"no.such.path": ["bigint"]}}}, {"a": 1}),
        ({"json": [1]}, [1]),
    ],
)
def test_superjson_inputs(envelope: dict[str, Any], expected: Any) -> None:
    assert superjson.is_envelope(envelope)
    assert superjson.deserialize(envelope) == expected


@pytest.mark.parametrize("value", [{}, {"json": 1, "other": 2}, {"meta": 1}, [], "json", None])
def test_not_superjson(value: Any) -> None:
    assert not superjson.is_envelope(value)


# -- an inline endpoint ---------------------------------------------------------------------------


class Slow(BaseModel):
    seconds: float


async def slow(ctx: Context, input: Slow) -> Out:
    await asyncio.sleep(input.seconds)
    return Out(value=2)


async def whoami(ctx: Context, _: None) -> Out:
    return Out(value=len(ctx.user.user_id))


async def unavailable(ctx: Context, _: None) -> Out:
    raise ServiceUnavailable("try later", retry_after=7)


INLINE = router(
    Procedure(path="t.slow", kind="query", input=Slow, output=Out, handler=slow, auth=False),
    Procedure(path="t.me", kind="query", output=Out, handler=whoami),
    Procedure(path="t.down", kind="query", output=Out, handler=unavailable, auth=False),
    Procedure(
        path="t.list", kind="query", output=TypeAdapter(list[int]), handler=returns, auth=False
    ),
    *system.PROCEDURES,
)


async def broken_authenticator(request: Request, services: Services) -> Principal:
    raise RuntimeError("jwks cache corrupted: secret-key-material")


async def fixed_authenticator(request: Request, services: Services) -> Principal:
    return Principal(user_id="alice", provider="supabase", claims={}, email=None)


def client(
    *, environment: str = "production", base: str = "/api/trpc", **kwargs: Any
) -> httpx.AsyncClient:
    # no database: nothing here reaches one (no rate limits)
    services = Services(load_settings({"SOCKLESS_ENV": environment}))
    app = trpc_app(
        kwargs.pop("app_router", INLINE),
        base=base,
        services=services,
        limits=kwargs.pop("limits", Limits(call_timeout_s=0.2)),
        **kwargs,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fn.test")


async def test_a_slow_call_times_out_alone() -> None:
    async with client() as http:
        inputs = '{"0":{"seconds":0},"1":{"seconds":5}}'
        response = await http.get(f"/api/trpc/t.slow,t.slow?batch=1&input={inputs}")
    assert response.status_code == 207
    ok, late = response.json()
    assert ok["result"]["data"] == {"value": 2}
    assert late["error"]["code"] == -32008 and late["error"]["data"]["code"] == "TIMEOUT"
    assert late["error"]["message"] == "t.slow took longer than 0.2 s"


async def test_an_authenticator_crash_is_internal_and_silent_in_production() -> None:
    async with client(authenticate=broken_authenticator) as http:
        response = await http.get(
            "/api/trpc/t.me,system.health?batch=1", headers={"authorization": "Bearer x"}
        )
    assert response.status_code == 207
    failed, health = response.json()
    assert failed["error"]["message"] == "Internal server error"
    assert failed["error"]["data"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "httpStatus": 500,
        "path": "t.me",
    }
    assert "secret-key-material" not in response.text
    assert health["result"]["data"]["status"] == "ok"


async def test_principal_reaches_the_handler() -> None:
    async with client(authenticate=fixed_authenticator) as http:
        response = await http.get("/api/trpc/t.me", headers={"authorization": "Bearer x"})
    assert response.json() == {"result": {"data": {"value": 5}}}


async def test_retry_after_from_any_error() -> None:
    async with client() as http:
        response = await http.get("/api/trpc/t.down")
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    error = response.json()["error"]
    assert error["code"] == -32603 and error["data"]["retryAfter"] == 7


async def test_a_handler_result_not_matching_its_output_is_internal() -> None:
    async with client() as http:
        response = await http.get("/api/trpc/t.list")  # returns Out, declares list[int]
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal server error"


async def test_base_path_and_listing() -> None:
    async with client(base="/rpc") as http:
        assert (await http.get("/rpc/system.health")).status_code == 200
        listing = (await http.get("/rpc")).json()
        assert [p["path"] for p in listing["procedures"]][:3] == ["t.slow", "t.me", "t.down"]
        elsewhere = await http.get("/api/trpc/system.health")
        assert elsewhere.status_code == 404
        assert elsewhere.json()["error"]["data"]["code"] == "NOT_FOUND"


async def test_development_errors_carry_a_stack() -> None:
    async with client(environment="development", authenticate=broken_authenticator) as http:
        response = await http.get("/api/trpc/t.me", headers={"authorization": "Bearer x"})
    stack = response.json()["error"]["data"]["stack"]
    assert "RuntimeError: jwks cache corrupted" in stack


def test_empty_router_lists_nothing() -> None:
    assert Router([]).description == {"procedures": [], "$defs": {}}


async def test_expected_errors_carry_no_stack_even_in_development() -> None:
    async with client(environment="development") as http:
        missing = await http.get("/api/trpc/t.nowhere")
        unsupported = await http.post(
            "/api/trpc/t.me", content=b"{}", headers={"content-type": "text/plain"}
        )
    assert missing.status_code == 404
    data = missing.json()["error"]["data"]
    assert data["code"] == "NOT_FOUND" and "stack" not in data
    assert unsupported.status_code == 415
    data = unsupported.json()["error"]["data"]
    assert data["code"] == "UNSUPPORTED_MEDIA_TYPE" and "stack" not in data
