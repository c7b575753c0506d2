"""Data access through Supabase (PostgREST) with the service role.

The client is created on first use and reused by later invocations of a warm instance.
PostgREST errors become our errors in one place (`map_error`):

    unique violation (23505)              -> Conflict
    RLS / permission (42501), JWT (PGRST3xx) -> Forbidden
    raise ... using errcode 'P0001'..     -> BadRequest with the function's message
    raise ... using errcode 'PT402' etc.  -> the error of that HTTP status (PostgREST's PTxxx
                                             convention): PT400 BadRequest, PT402
                                             PaymentRequired, PT403 Forbidden, PT404 NotFound,
                                             PT409 Conflict, PT412 PreconditionFailed, PT422
                                             UnprocessableContent, PT429 TooManyRequests (a
                                             DETAIL of digits is its Retry-After), with the
                                             function's message
    unknown function/table (PGRST202/42883/42P01) -> DatabaseUnavailable (schema not migrated)
    unreachable / timeout                 -> DatabaseUnavailable with Retry-After
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import httpx

from lib.config import Settings
from lib.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    NotFound,
    PaymentRequired,
    PreconditionFailed,
    SocklessError,
    TooManyRequests,
    UnprocessableContent,
)

if TYPE_CHECKING:
    from supabase import AsyncClient

RETRY_AFTER_S = 2
PT_CODES: dict[str, type[SocklessError]] = {
    "PT400": BadRequest,
    "PT402": PaymentRequired,
    "PT403": Forbidden,
    "PT404": NotFound,
    "PT409": Conflict,
    "PT412": PreconditionFailed,
    "PT422": UnprocessableContent,
}
"""`raise ... using errcode 'PTxxx'` in a SQL function: PostgREST answers HTTP xxx."""


def map_error(exc: Exception) -> SocklessError:
    """Translate a PostgREST or transport failure into a SocklessError (caller chains it)."""
    if isinstance(exc, httpx.TransportError):
        return DatabaseUnavailable("the database is unreachable", retry_after=RETRY_AFTER_S)
    code = str(getattr(exc, "code", "") or "")
    message = str(getattr(exc, "message", "") or exc)
    if code in PT_CODES:
        return PT_CODES[code](message)
    if code == "PT429":
        retry = _detail(exc)
        return TooManyRequests(message, retry_after=int(retry) if retry.isdigit() else None)
    if code == "23505":
        return Conflict("that already exists", details={"constraint": _detail(exc)})
    if code in {"42501"} or code.startswith("PGRST3"):
        return Forbidden("not allowed")
    if code in {"23503", "23502", "23514", "P0001"}:
        return BadRequest(message)
    if code.startswith("22"):  # a data exception: a value the caller sent that SQL refuses
        detail = _detail(exc)  # (U+0000 in text, a number out of range, a bad date, ...)
        return BadRequest(f"{message}: {detail}" if detail else message)
    if code == "P0002":
        return NotFound(message)
    if code in {"PGRST202", "42883", "42P01", "PGRST205"}:
        return DatabaseUnavailable("the database schema is not ready", retry_after=RETRY_AFTER_S)
    if code.startswith("PGRST0") or code in {"57014", "53300", "57P01"}:
        return DatabaseUnavailable("the database is busy", retry_after=RETRY_AFTER_S)
    return SocklessError("database error")


def _detail(exc: Exception) -> str:
    return str(getattr(exc, "details", "") or "")


class Database:
    """A lazily connected Supabase client for one set of settings."""

    def __init__(self, config: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._http = http
        self._client: AsyncClient | None = None

    async def client(self) -> AsyncClient:
        if self._client is None:
            from supabase import AsyncClientOptions, acreate_client

            options = AsyncClientOptions(
                postgrest_client_timeout=self._config.db_timeout_s,
                auto_refresh_token=False,
                persist_session=False,
                httpx_client=self._http,
            )
            self._client = await acreate_client(
                self._config.supabase_url,
                self._config.supabase_service_role_key.get(),
                options,
            )
        return self._client

    async def rpc(self, name: str, **params: Any) -> Any:
        """Call a SQL function (one transaction) and return its JSON result."""
        from postgrest.exceptions import APIError

        client = await self.client()
        try:
            response = await client.rpc(name, params).execute()
        except (APIError, httpx.HTTPError) as exc:
            raise map_error(exc) from exc
        return response.data

    async def select(self, table: str, columns: str = "*", **equals: Any) -> list[dict[str, Any]]:
        """Rows of `table` whose columns equal the given values."""
        from postgrest.exceptions import APIError

        client = await self.client()
        query = client.table(table).select(columns)
        for column, value in equals.items():
            query = query.eq(column, value)
        try:
            response = await query.execute()
        except (APIError, httpx.HTTPError) as exc:
            raise map_error(exc) from exc
        return [dict(row) for row in response.data if isinstance(row, dict)]

    async def aclose(self) -> None:
        """Close the connection pool (lifespan shutdown); the next call reconnects."""
        client, self._client = self._client, None
        if client is not None:
            await client.postgrest.aclose()


_databases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Settings, Database]] = (
    weakref.WeakKeyDictionary()
)


def database(config: Settings) -> Database:
    """The Database for these settings on the running event loop, created lazily.

    Pooled connections belong to the loop that opened them, so each loop (normally the one a
    warm instance runs) gets its own; several ASGI apps in one process share it."""
    per_loop = _databases.setdefault(_loop(), {})
    if config not in per_loop:
        per_loop[config] = Database(config)
    return per_loop[config]


def _loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError as exc:
        raise RuntimeError("database() is for async handlers (no running event loop)") from exc


async def close_all() -> None:
    """Close this loop's Databases (an app's lifespan shutdown calls this)."""
    for db in list(_databases.pop(_loop(), {}).values()):
        await db.aclose()
