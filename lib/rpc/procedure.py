"""A procedure is data: its path, kind, input/output models, handler, auth and rate limit.

    async def vote(ctx: Context, input: VoteInput) -> VoteResult: ...

    Procedure(path="poker.vote", kind="mutation", input=VoteInput, output=VoteResult,
              handler=vote, rate_limit=(30, 60))

Contract of the layer around a handler (lib.rpc.app): the caller is authenticated when `auth`
is true (the default: public procedures say `auth=False`), the input is validated against
`input` (a pydantic model or TypeAdapter; with `input=None` the handler gets None and any input
sent is ignored), the rate limit `(limit, window_s)` is counted per user (per client IP for
anonymous callers) and per procedure, and whatever the handler returns is validated against
`output` and serialized in JSON mode. A handler raises SocklessError subclasses for expected
failures; anything else is answered as INTERNAL_SERVER_ERROR without details outside
development.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from lib.errors import InvalidInput, SocklessError, Unauthorized

if TYPE_CHECKING:
    from lib.auth import Principal
    from lib.config import Settings
    from lib.db import Database
    from lib.realtime.port import Publisher
    from lib.services import Services

Kind = Literal["query", "mutation"]
Schema = type[BaseModel] | TypeAdapter[Any]
Handler = Callable[["Context", Any], Awaitable[Any]]

PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
MAX_ISSUES_IN_MESSAGE = 3


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a handler gets besides its input; one per call."""

    path: str
    principal: Principal | None
    """The caller, or None (public procedure, no or invalid token)."""
    services: Services
    request_id: str
    client_ip: str | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def publisher(self) -> Publisher:
        """The realtime publisher REALTIME_PROVIDER names."""
        return self.services.publisher

    @property
    def user(self) -> Principal:
        """The caller of an `auth=True` procedure (Unauthorized if there is none)."""
        if self.principal is None:
            raise Unauthorized("sign in to call this procedure")
        return self.principal


def adapter(schema: Schema) -> TypeAdapter[Any]:
    return schema if isinstance(schema, TypeAdapter) else TypeAdapter(schema)


def invalid_input(exc: ValidationError) -> InvalidInput:
    """A pydantic ValidationError as our typed error, every issue kept with its path."""
    issues = [(tuple(error["loc"]), str(error["msg"])) for error in exc.errors(include_url=False)]
    shown = "; ".join(
        f"{'.'.join(str(part) for part in path) or 'input'}: {message}"
        for path, message in issues[:MAX_ISSUES_IN_MESSAGE]
    )
    more = len(issues) - MAX_ISSUES_IN_MESSAGE
    suffix = f" (and {more} more)" if more > 0 else ""
    return InvalidInput(f"invalid input: {shown}{suffix}", issues=issues)


@dataclass(frozen=True, kw_only=True)
class Procedure:
    path: str
    kind: Kind
    handler: Handler
    output: Schema
    input: Schema | None = None
    auth: bool = True
    rate_limit: tuple[int, int] | None = None
    """(calls, window seconds) per caller; None = unlimited."""
    description: str = ""

    def __post_init__(self) -> None:
        if not PATH.fullmatch(self.path):
            raise ValueError(f"procedure path {self.path!r}: dotted identifiers, e.g. poker.vote")
        if self.kind not in ("query", "mutation"):
            raise ValueError(f"{self.path}: kind is 'query' or 'mutation', not {self.kind!r}")
        if self.rate_limit is not None:
            limit, window_s = self.rate_limit
            if limit < 1 or window_s < 1:
                raise ValueError(f"{self.path}: rate_limit is (calls >= 1, window_s >= 1)")

    @cached_property
    def input_adapter(self) -> TypeAdapter[Any] | None:
        return None if self.input is None else adapter(self.input)

    @cached_property
    def output_adapter(self) -> TypeAdapter[Any]:
        return adapter(self.output)

    def parse_input(self, raw: Any) -> Any:
        """The validated input (None when the procedure takes none); InvalidInput if not."""
        input_adapter = self.input_adapter
        if input_adapter is None:
            return None
        try:
            return input_adapter.validate_python(raw)
        except ValidationError as exc:
            raise invalid_input(exc) from exc

    def dump_output(self, value: Any) -> Any:
        """The handler's result, validated against `output`, as JSON-ready data."""
        output = self.output_adapter
        try:
            return output.dump_python(output.validate_python(value), mode="json", by_alias=True)
        except ValidationError as exc:  # a bug: logged with this note, never shown
            exc.add_note(f"{self.path} returned an invalid result")
            raise SocklessError("Internal server error") from exc
