"""Test harness for calls: the voice webhooks (in-process, configured for the test), the bridge
and the fake OpenAI on loopback ports, the phone simulator, and SQL access to the stack.

    world = VoiceWorld(...)                          # built by the `voice` fixture
    number = world.number(owner, goal="Book a table")
    answer = await world.incoming(to=number)         # a signed webhook -> TwiML
    async with world.phone(answer) as phone: ...     # the provider streams the call
    row = await world.saved(answer.call_id)          # the calls row, once the bridge saved it
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from psycopg.rows import dict_row
from twilio.request_validator import RequestValidator

from dev.fake_openai import Behaviour, FakeOpenAI
from dev.phone import Phone, stream_of
from dev.stack import Stack
from lib.db import Database
from lib.features.calls.settings import CallsSettings
from lib.features.calls.webhooks import incoming, status
from lib.services import Services
from lib.web import function
from tests.support import asgi_client, stack_services
from worker.config import BridgeConfig, Secret
from worker.server import Bridge

PUBLIC = "https://sockless.example"
"""The public base URL providers call (and sign); requests arrive at another host."""
WAIT = 20.0


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within_s: float, every_s: float = 0.05
) -> None:
    """Poll `check` (something outside this process, e.g. a row or a health endpoint) until it
    holds; TimeoutError after `within_s`."""
    async with asyncio.timeout(within_s):
        for _ in itertools.count():
            if await check():
                return
            await asyncio.sleep(every_s)


def e164() -> str:
    return "+1555" + "".join(random.choices("0123456789", k=7))  # noqa: S311


def api_services(stack: Stack, bridge_url: str, token_secret: str, **env: str) -> Services:
    """Services of the api's voice functions: public URL, signing key, the bridge to stream to."""
    return stack_services(
        stack,
        PUBLIC_BASE_URL=PUBLIC,
        SIGNALWIRE_SIGNING_KEY="signing-key-for-tests",
        BRIDGE_URL=bridge_url,
        BRIDGE_TOKEN_SECRET=token_secret,
        **env,
    )


def bridge_config(stack: Stack, fake_url: str, token_secret: str, **changes: Any) -> BridgeConfig:
    assert stack.realtime is not None
    base = BridgeConfig(
        token_secret=Secret(token_secret),
        path_secret=Secret(secrets.token_urlsafe(24)),
        supabase_url=stack.supabase_url,
        supabase_service_role_key=Secret(stack.config.service_role_key),
        openai_realtime_url=fake_url,
        vad_silence_ms=500,
        pusher_app_id=stack.config.pusher_app_id,
        pusher_key=stack.config.pusher_key,
        pusher_secret=Secret(stack.config.pusher_secret),
        pusher_host=stack.realtime.host,
        pusher_port=stack.realtime.port,
        max_call_s=30,
        drain_s=2,
        shutdown_timeout_s=20,
        goodbye_timeout_s=5,
        **storage_config(stack),
    )
    return base.with_overrides(**changes)


def storage_config(stack: Stack) -> dict[str, Any]:
    """The bridge's recording storage: the stack's local S3 (moto)."""
    if stack.s3 is None:
        return {}
    env = stack.s3.env()
    return {
        "storage_s3_endpoint": env["STORAGE_S3_ENDPOINT"],
        "storage_s3_bucket": env["STORAGE_S3_BUCKET"],
        "storage_s3_region": env["STORAGE_S3_REGION"],
        "storage_s3_access_key_id": env["STORAGE_S3_ACCESS_KEY_ID"],
        "storage_s3_secret_access_key": Secret(env["STORAGE_S3_SECRET_ACCESS_KEY"]),
    }


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    call_id: str = ""
    token: str = ""
    stream_url: str = ""
    attributes: dict[str, str] | None = None


class VoiceWorld:
    def __init__(
        self,
        stack: Stack,
        *,
        fake: FakeOpenAI | None,
        bridge: Bridge | None,
        services: Services,
    ) -> None:
        self.stack = stack
        self.fake = fake
        self.bridge = bridge
        self.db = Database(services.settings)
        self.services = services.replace(db=self.db)

    @property
    def calls(self) -> CallsSettings:
        return self.services.feature(CallsSettings)

    def sql(self) -> psycopg.Connection[dict[str, Any]]:
        assert self.stack.pg is not None
        return psycopg.connect(
            self.stack.pg.dsn, autocommit=True, connect_timeout=10, row_factory=dict_row
        )

    def number(self, owner: str, *, goal: str = "Book a table", context: str = "{}") -> str:
        number = e164()
        with self.sql() as conn:
            conn.execute(
                "insert into public.call_numbers (number, owner_id, goal, context)"
                " values (%s, %s, %s, %s::jsonb)",
                [number, owner, goal, context],
            )
        return number

    def row(self, call_id: str) -> dict[str, Any] | None:
        with self.sql() as conn:
            return conn.execute("select * from public.calls where id = %s", [call_id]).fetchone()

    async def saved(self, call_id: str, *, within_s: float = WAIT) -> dict[str, Any]:
        """The call's row once the bridge has saved it (bounded wait)."""
        found: dict[str, Any] = {}

        async def finished() -> bool:
            row = await asyncio.to_thread(self.row, call_id)
            found.update(row or {})
            return row is not None and row["finished_at"] is not None

        await eventually(finished, within_s=within_s)
        return found

    async def post(
        self,
        path: str,
        form: dict[str, str],
        *,
        query: str = "",
        key: str | None = None,
        signed: bool = True,
        signed_url_base: str = PUBLIC,
        signature_value: str | None = None,
    ) -> httpx.Response:
        """POST a form to a voice webhook as the provider does: signed over
        `signed_url_base` (the public URL) + path, with the signing key (or `key`)."""
        handler = incoming if path.endswith("incoming") else status
        app = function(POST=handler, services=self.services)
        url = f"{path}?{query}" if query else path
        headers = {"content-type": "application/x-www-form-urlencoded"}
        if signature_value is not None:
            headers["x-signalwire-signature"] = signature_value
        elif signed:
            signing_key = key or self.services.settings.voice_signing_key.get()
            # signed by Twilio's own SDK (SignalWire's cXML webhooks use the same scheme)
            headers["x-signalwire-signature"] = RequestValidator(signing_key).compute_signature(
                f"{signed_url_base}{url}", dict(form)
            )
        async with asgi_client(app) as client:
            return await client.post(url, content=urlencode(form), headers=headers)

    async def incoming(self, *, to: str, sid: str | None = None, **kwargs: Any) -> Answer:
        form = {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": sid or f"CA{secrets.token_hex(16)}",
            "From": "+15550009999",
            "To": to,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        response = await self.post("/api/voice/incoming", form, **kwargs)
        if response.status_code != 200 or "<Stream" not in response.text:
            return Answer(response.status_code, response.text)
        url, params, attributes = stream_of(response.text)
        return Answer(200, response.text, params["callId"], params["token"], url, attributes)

    def phone(self, answer: Answer, **kwargs: Any) -> contextlib.AbstractAsyncContextManager[Phone]:
        return Phone.call(answer.stream_url, call_id=answer.call_id, token=answer.token, **kwargs)


@contextlib.asynccontextmanager
async def voice_world(
    stack: Stack,
    behaviour: Behaviour,
    *,
    http: httpx.AsyncClient | None = None,
    api_env: dict[str, str] | None = None,
    **changes: Any,
) -> AsyncIterator[VoiceWorld]:
    """A fake OpenAI with `behaviour`, a bridge configured with `changes`, and webhook
    settings streaming to it."""
    secret = secrets.token_urlsafe(32)
    async with FakeOpenAI(behaviour).running() as fake:
        config = bridge_config(stack, fake.url, secret, **changes)
        async with Bridge(config, http=http).running() as bridge:
            services = api_services(stack, bridge.base_url, secret, **(api_env or {}))
            world = VoiceWorld(stack, fake=fake, bridge=bridge, services=services)
            try:
                yield world
            finally:
                await world.db.aclose()
