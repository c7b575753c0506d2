"""POST /api/realtime/auth and /api/realtime/user-auth over HTTP, as pusher-js calls them,
against the local stack (Vercel emulation -> lib -> PostgREST -> Postgres membership)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.realtime.pusher_auth import channel_auth
from lib.web import function
from tests.support import asgi_client, sql, stack_services, unique
from tests.test_auth import APP_ORIGIN, RSA_KEY, clerk_token, public_pem

SOCKET_ID = "1234.5678"
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()


@dataclass(frozen=True)
class World:
    alice: str  # member of everything below, display name "Alice"
    bob: str  # member of nothing
    location: str
    poker: str
    conversation: str


@pytest.fixture
def world(stack: Stack) -> World:
    alice, bob = unique("alice"), unique("bob")
    location, poker, conversation = unique("loc"), str(uuid.uuid4()), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute("insert into public.profiles (id, display_name) values (%s, 'Alice')", [alice])
        db.execute("insert into public.locations (id, name) values (%s, 'Shop')", [location])
        db.execute(
            "insert into public.location_members (location_id, user_id) values (%s, %s)",
            [location, alice],
        )
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) "
            "values (%s, 'Sprint 1', %s)",
            [poker, unique("carol")],
        )
        db.execute(
            "insert into public.poker_members (session_id, user_id) values (%s, %s)", [poker, alice]
        )
        db.execute("insert into public.conversations (id) values (%s)", [conversation])
        db.execute(
            "insert into public.conversation_participants (conversation_id, user_id) "
            "values (%s, %s)",
            [conversation, alice],
        )
    return World(alice, bob, location, poker, conversation)


def post(stack: Stack, path: str, token: str | None, **form: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{stack.api_url}{path}", data=form, headers=headers, timeout=10)


def channel(stack: Stack, token: str | None, name: str, socket_id: str = SOCKET_ID):
    return post(stack, "/api/realtime/auth", token, socket_id=socket_id, channel_name=name)


def signature(stack: Stack, text: str) -> str:
    digest = hmac.new(stack.config.pusher_secret.encode(), text.encode(), hashlib.sha256)
    return f"{stack.config.pusher_key}:{digest.hexdigest()}"


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def test_user_may_subscribe_to_their_own_private_channel(stack: Stack, token, world: World):
    name = f"private-user-{world.alice}"
    response = channel(stack, token(world.alice), name)
    assert response.status_code == 200
    assert response.json() == {"auth": signature(stack, f"{SOCKET_ID}:{name}")}


def test_user_may_not_subscribe_to_another_users_channel(stack: Stack, token, world: World):
    response = channel(stack, token(world.bob), f"private-user-{world.alice}")
    assert error_code(response, 403) == "FORBIDDEN"


@pytest.mark.parametrize(
    "family",
    [
        "private-location-{location}",
        "presence-location-{location}",
        "presence-poker-{poker}",
        "private-conversation-{conversation}",
    ],
)
def test_non_members_are_refused_and_members_admitted(
    stack: Stack, token, world: World, family: str
):
    name = family.format(
        location=world.location, poker=world.poker, conversation=world.conversation
    )
    assert error_code(channel(stack, token(world.bob), name), 403) == "FORBIDDEN"
    member = channel(stack, token(world.alice), name)
    assert member.status_code == 200, member.text
    assert member.json()["auth"].startswith(f"{stack.config.pusher_key}:")


def test_presence_answer_carries_the_members_profile(stack: Stack, token, world: World):
    name = f"presence-poker-{world.poker}"
    body = channel(stack, token(world.alice), name).json()
    assert json.loads(body["channel_data"]) == {
        "user_id": world.alice,
        "user_info": {"display_name": "Alice"},
    }
    assert body["auth"] == signature(stack, f"{SOCKET_ID}:{name}:{body['channel_data']}")


def test_the_poker_facilitator_is_a_member(stack: Stack, token):
    facilitator, session = unique("facilitator"), str(uuid.uuid4())
    with sql(stack) as db:
        db.execute(
            "insert into public.poker_sessions (id, name, facilitator_id) "
            "values (%s, 'Planning', %s)",
            [session, facilitator],
        )
    response = channel(stack, token(facilitator), f"presence-poker-{session}")
    assert response.status_code == 200
    info = json.loads(response.json()["channel_data"])["user_info"]
    assert info == {"display_name": facilitator}  # no profile yet: the id stands in


@pytest.mark.parametrize(
    "name,status",
    [
        ("presence-poker-not-a-uuid", 400),
        ("private-user-" + "x" * 200, 400),
        ("private-user-al ice", 400),
        ("private-something-else-1", 403),
        ("public-lobby", 400),
        ("#server-to-user-someone", 400),
    ],
)
def test_malformed_or_unknown_channels_are_refused(stack: Stack, token, name: str, status: int):
    response = channel(stack, token(unique("user")), name)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


def test_malformed_socket_id_is_400(stack: Stack, token):
    user = unique("user")
    response = channel(stack, token(user), f"private-user-{user}", socket_id="abc")
    assert error_code(response, 400) == "BAD_REQUEST"


@pytest.mark.parametrize("kind", ["missing", "forged", "expired", "wrong-audience"])
def test_bad_tokens_are_401(stack: Stack, token, kind: str):
    user = unique("user")
    bad = {
        "missing": None,
        "forged": _forged(user),
        "expired": token(user, ttl_s=-60),
        "wrong-audience": token(user, extra={"aud": "another-api"}),
    }[kind]
    response = channel(stack, bad, f"private-user-{user}")
    assert error_code(response, 401) == "UNAUTHORIZED"


def _forged(user: str) -> str:
    from dev.token import user_token

    return user_token("not-the-projects-secret-" + "z" * 20, sub=user)


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    database = Database(stack_services(stack).settings)
    try:
        yield database
    finally:
        await database.aclose()


def auth_app(stack: Stack, db: Database, **env: str):  # noqa: ANN201 - an ASGI app
    """/api/realtime/auth as the stack serves it, with `env` overrides."""
    return function(POST=channel_auth, services=stack_services(stack, **env).replace(db=db))


async def test_encrypted_channels_are_refused_without_a_master_key(stack: Stack, token, db):
    app = auth_app(stack, db, PUSHER_ENCRYPTION_MASTER_KEY_BASE64="")
    user = unique("user")
    async with asgi_client(app) as client:
        response = await client.post(
            "/api/realtime/auth",
            data={"socket_id": SOCKET_ID, "channel_name": f"private-encrypted-user-{user}"},
            headers={"Authorization": f"Bearer {token(user)}"},
        )
    assert error_code(response, 403) == "FORBIDDEN"
    assert "PUSHER_ENCRYPTION_MASTER_KEY_BASE64" in response.json()["error"]["message"]


def test_the_local_stack_serves_encrypted_channels(stack: Stack, token):
    user = unique("user")
    response = channel(stack, token(user), f"private-encrypted-user-{user}")
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["shared_secret"], str)


async def test_encrypted_answer_carries_a_string_shared_secret(stack: Stack, token, db):
    app = auth_app(stack, db, PUSHER_ENCRYPTION_MASTER_KEY_BASE64=MASTER_KEY)
    user = unique("user")
    name = f"private-encrypted-user-{user}"
    async with asgi_client(app) as client:
        response = await client.post(
            "/api/realtime/auth",
            data={"socket_id": SOCKET_ID, "channel_name": name},
            headers={"Authorization": f"Bearer {token(user)}"},
        )
        other = await client.post(
            "/api/realtime/auth",
            data={"socket_id": SOCKET_ID, "channel_name": f"private-encrypted-user-{user}x"},
            headers={"Authorization": f"Bearer {token(user)}"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = hashlib.sha256(name.encode() + base64.b64decode(MASTER_KEY)).digest()
    assert body["shared_secret"] == base64.b64encode(expected).decode()
    assert body["auth"] == signature(stack, f"{SOCKET_ID}:{name}")
    assert other.status_code == 403


def test_user_auth_signs_in_with_the_callers_id(stack: Stack, token, world: World):
    response = post(stack, "/api/realtime/user-auth", token(world.alice), socket_id=SOCKET_ID)
    assert response.status_code == 200, response.text
    body = response.json()
    assert json.loads(body["user_data"]) == {
        "id": world.alice,
        "user_info": {"display_name": "Alice"},
    }
    assert body["auth"] == signature(stack, f"{SOCKET_ID}::user::{body['user_data']}")


def test_user_auth_needs_a_token(stack: Stack):
    response = post(stack, "/api/realtime/user-auth", None, socket_id=SOCKET_ID)
    assert error_code(response, 401) == "UNAUTHORIZED"


async def test_the_call_past_the_limit_is_429_with_retry_after(stack: Stack, token, db):
    app = auth_app(stack, db, REALTIME_AUTH_RATE_LIMIT="3", REALTIME_AUTH_RATE_WINDOW_S="600")
    user, other = unique("user"), unique("user")

    async def call(who: str) -> httpx.Response:
        return await client.post(
            "/api/realtime/auth",
            data={"socket_id": SOCKET_ID, "channel_name": f"private-user-{who}"},
            headers={"Authorization": f"Bearer {token(who)}"},
        )

    async with asgi_client(app) as client:
        statuses = [(await call(user)).status_code for _ in range(3)]
        refused = await call(user)
        someone_else = await call(other)
    assert statuses == [200, 200, 200]
    assert error_code(refused, 429) == "TOO_MANY_REQUESTS"
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert someone_else.status_code == 200


async def test_clerk_users_are_authorized_like_supabase_users(stack: Stack, db):
    clerk = {"CLERK_JWT_KEY": public_pem(RSA_KEY), "CLERK_AUTHORIZED_PARTIES": APP_ORIGIN}
    user, location = f"user_{uuid.uuid4().hex[:16]}", unique("loc")
    with sql(stack) as conn:
        conn.execute("insert into public.locations (id) values (%s)", [location])
        conn.execute(
            "insert into public.location_members (location_id, user_id) values (%s, %s)",
            [location, user],
        )
    app = auth_app(stack, db, **clerk)
    form = {"socket_id": SOCKET_ID, "channel_name": f"presence-location-{location}"}
    async with asgi_client(app) as client:
        member = await client.post(
            "/api/realtime/auth",
            data=form,
            headers={"Authorization": f"Bearer {clerk_token(sub=user)}"},
        )
        other_app = await client.post(
            "/api/realtime/auth",
            data=form,
            headers={"Authorization": f"Bearer {clerk_token(sub=user, azp='https://evil.test')}"},
        )
    assert member.status_code == 200, member.text
    assert json.loads(member.json()["channel_data"])["user_id"] == user
    assert error_code(other_app, 401) == "UNAUTHORIZED"
