"""supabase-py -> gateway -> PostgREST -> Postgres, with RLS deciding what each role sees."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import Client, ClientOptions, create_client

from dev.stack import Stack

_http = httpx.Client(timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _http.close()


def client(stack: Stack, *, user_jwt: str | None = None, key: str | None = None) -> Client:
    """A real supabase-py client, as anon (default), a user, or with another key."""
    headers = {"Authorization": f"Bearer {user_jwt}"} if user_jwt else {}
    options = ClientOptions(headers=headers, httpx_client=_http)
    return create_client(stack.supabase_url, key or stack.config.anon_key, options)


@pytest.fixture
def two_users(stack: Stack) -> tuple[str, str]:
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    service = client(stack, key=stack.config.service_role_key)
    service.table("profiles").insert(
        [{"id": alice, "display_name": "Alice"}, {"id": bob, "display_name": "Bob"}]
    ).execute()
    return alice, bob


def test_service_role_reads_and_writes_every_profile(stack: Stack, two_users: tuple[str, str]):
    alice, bob = two_users
    service = client(stack, key=stack.config.service_role_key)
    service.table("profiles").update({"display_name": "Bobby"}).eq("id", bob).execute()
    rows = service.table("profiles").select("id, display_name").in_("id", [alice, bob]).execute()
    assert sorted((r["id"], r["display_name"]) for r in rows.data) == [
        (alice, "Alice"),
        (bob, "Bobby"),
    ]


def test_user_reads_only_their_own_profile(stack: Stack, token, two_users: tuple[str, str]):
    alice, bob = two_users
    as_alice = client(stack, user_jwt=token(alice))
    rows = as_alice.table("profiles").select("id").execute()
    assert [r["id"] for r in rows.data] == [alice]
    assert as_alice.table("profiles").select("id").eq("id", bob).execute().data == []


def test_user_cannot_insert_a_profile_for_someone_else(stack: Stack, token):
    mallory, victim = f"mallory-{uuid.uuid4().hex[:8]}", f"victim-{uuid.uuid4().hex[:8]}"
    as_mallory = client(stack, user_jwt=token(mallory))
    with pytest.raises(APIError) as caught:
        as_mallory.table("profiles").insert({"id": victim, "display_name": "pwned"}).execute()
    assert caught.value.code == "42501"
    service = client(stack, key=stack.config.service_role_key)
    assert service.table("profiles").select("id").eq("id", victim).execute().data == []


def test_user_can_create_and_update_their_own_profile(stack: Stack, token):
    me = f"user-{uuid.uuid4().hex[:8]}"
    as_me = client(stack, user_jwt=token(me))
    as_me.table("profiles").insert({"id": me, "display_name": "Me"}).execute()
    as_me.table("profiles").update({"display_name": "Still me"}).eq("id", me).execute()
    row = as_me.table("profiles").select("display_name").eq("id", me).single().execute()
    assert row.data == {"display_name": "Still me"}


def test_anon_reads_nothing(stack: Stack, two_users: tuple[str, str]):
    anon = client(stack)
    try:
        rows = anon.table("profiles").select("id").execute().data
    except APIError as exc:
        assert exc.code == "42501"
    else:
        assert rows == []


def test_expired_user_token_is_rejected(stack: Stack, token):
    stale = client(stack, user_jwt=token("alice", ttl_s=-60))
    with pytest.raises(APIError) as caught:
        stale.table("profiles").select("id").execute()
    assert caught.value.code == "PGRST301"


def test_gateway_requires_an_api_key(stack: Stack):
    response = _http.get(f"{stack.supabase_url}/rest/v1/profiles")
    assert response.status_code == 401
    assert "No API key" in response.json()["message"]
