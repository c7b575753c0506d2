"""Pure parts: signatures, names, the Supabase topic mapping, client frame parsing."""

from __future__ import annotations

import hashlib
import json

import pusher
import pytest

from dev.realtime import InvalidTopic, topic_to_channel
from dev.realtime.names import ChannelKind, channel_name_problem, channel_type, is_socket_id
from dev.realtime.protocol import (
    ClientEvent,
    Ping,
    ProtocolError,
    Signin,
    Subscribe,
    parse_client_frame,
)
from dev.realtime.signing import (
    auth_matches,
    channel_string,
    request_problem,
    sign_request,
    signin_string,
)

SDK = pusher.Pusher("1", "key", "secret")


# Signatures: what the official SDK signs, the server accepts; anything else it refuses.


def test_private_channel_auth_from_the_sdk_matches() -> None:
    auth = SDK.authenticate("private-a", "1.2")["auth"]
    assert auth_matches(
        key="key", secret="secret", auth=auth, string_to_sign=channel_string("1.2", "private-a")
    )


def test_presence_auth_covers_channel_data() -> None:
    answer = SDK.authenticate("presence-a", "1.2", {"user_id": "u"})
    signed = channel_string("1.2", "presence-a", answer["channel_data"])
    assert auth_matches(key="key", secret="secret", auth=answer["auth"], string_to_sign=signed)
    forged = channel_string("1.2", "presence-a", json.dumps({"user_id": "admin"}))
    assert not auth_matches(key="key", secret="secret", auth=answer["auth"], string_to_sign=forged)


def test_user_signin_auth_from_the_sdk_matches() -> None:
    answer = SDK.authenticate_user("1.2", {"id": "u"})
    signed = signin_string("1.2", answer["user_data"])
    assert auth_matches(key="key", secret="secret", auth=answer["auth"], string_to_sign=signed)


@pytest.mark.parametrize(
    "auth", [None, 42, "", "key", "key:", "other:" + "0" * 64, "key:" + "0" * 64]
)
def test_malformed_or_wrong_auth_is_refused(auth: object) -> None:
    assert not auth_matches(
        key="key", secret="secret", auth=auth, string_to_sign=channel_string("1.2", "private-a")
    )


def _signed(body: bytes = b'{"a":1}', timestamp: int = 1_000_000, **params: str) -> dict[str, str]:
    return sign_request(
        key="key",
        secret="secret",
        method="POST",
        path="/apps/1/events",
        params=params,
        body=body,
        timestamp=timestamp,
    )


def _problem(
    params: dict[str, str],
    body: bytes = b'{"a":1}',
    now: float = 1_000_000,
    method: str = "POST",
    path: str = "/apps/1/events",
) -> str | None:
    return request_problem(
        key="key",
        secret="secret",
        method=method,
        path=path,
        params=params,
        body=body,
        now=now,
        tolerance=600,
    )


def test_request_signed_like_the_sdk_is_accepted() -> None:
    request = pusher.http.Request(SDK._pusher_client, "POST", "/apps/1/events", {"a": 1})
    now = float(request.query_params["auth_timestamp"])
    assert _problem(dict(request.query_params), body=request.body, now=now) is None
    assert _problem(_signed()) is None


@pytest.mark.parametrize(
    ("params", "body", "now", "reason"),
    [
        ({**_signed(), "auth_signature": "0" * 64}, b'{"a":1}', 1_000_000, "Invalid signature"),
        (_signed(), b'{"a":2}', 1_000_000, "body_md5"),
        (
            {**_signed(), "body_md5": hashlib.md5(b'{"a":2}').hexdigest()},  # noqa: S324
            b'{"a":2}',
            1_000_000,
            "Invalid signature",
        ),
        (_signed(), b'{"a":1}', 1_000_601, "Timestamp expired"),
        (_signed(), b'{"a":1}', 999_399, "Timestamp expired"),
        ({**_signed(), "auth_key": "other"}, b'{"a":1}', 1_000_000, "auth_key"),
        (
            {k: v for k, v in _signed().items() if k != "auth_signature"},
            b'{"a":1}',
            1_000_000,
            "auth_signature",
        ),
        ({**_signed(), "auth_version": "2.0"}, b'{"a":1}', 1_000_000, "auth_version"),
        ({**_signed(), "extra": "added-later"}, b'{"a":1}', 1_000_000, "Invalid signature"),
    ],
)
def test_request_problems(params: dict[str, str], body: bytes, now: float, reason: str) -> None:
    problem = _problem(params, body=body, now=now)
    assert problem is not None and reason in problem


def test_signature_covers_method_and_path() -> None:
    assert "Invalid signature" in (_problem(_signed(), method="GET") or "")
    assert "Invalid signature" in (_problem(_signed(), path="/apps/2/events") or "")


# Names


@pytest.mark.parametrize(
    ("name", "kind", "cached"),
    [
        ("room", ChannelKind.PUBLIC, False),
        ("cache-room", ChannelKind.PUBLIC, True),
        ("private-room", ChannelKind.PRIVATE, False),
        ("private-cache-room", ChannelKind.PRIVATE, True),
        ("presence-room", ChannelKind.PRESENCE, False),
        ("presence-cache-room", ChannelKind.PRESENCE, True),
        ("private-encrypted-room", ChannelKind.ENCRYPTED, False),
        ("private-encrypted-cache-room", ChannelKind.ENCRYPTED, True),
        ("#server-to-user-42", ChannelKind.SERVER_TO_USER, False),
    ],
)
def test_channel_types(name: str, kind: ChannelKind, cached: bool) -> None:
    assert channel_type(name).kind is kind and channel_type(name).cached is cached


@pytest.mark.parametrize("name", ["a", "A-z_0=9@,.;", "x" * 200, "#server-to-user-u.1"])
def test_valid_channel_names(name: str) -> None:
    assert channel_name_problem(name) is None


@pytest.mark.parametrize(
    "name", ["", "x" * 201, "room:1", "a b", "é", "#other", None, 3, "#server-to-user-"]
)
def test_invalid_channel_names(name: object) -> None:
    assert channel_name_problem(name) is not None


def test_socket_ids() -> None:
    assert is_socket_id("123.456")
    assert not any(is_socket_id(v) for v in ("123", "1.2.3", "a.1", "", None, " 1.2"))


# Supabase topics -> Pusher channels


@pytest.mark.parametrize(
    ("topic", "private", "channel"),
    [
        ("room-1", False, "room-1"),
        ("user-42", True, "private-user-42"),
        ("cache-feed", True, "private-cache-feed"),
        ("presence-room-1", True, "presence-room-1"),
        ("presence-room-1", False, "presence-room-1"),
        ("private-user-42", True, "private-user-42"),
        ("private-encrypted-vault", True, "private-encrypted-vault"),
        ("#server-to-user-42", True, "#server-to-user-42"),
        ("realtime:room-1", False, "room-1"),
        ("realtime:user-42", True, "private-user-42"),
        # channel families (lib.realtime.topics): where their server events go in Pusher mode
        (
            "poker-3f2b8c1e-0000-4000-8000-000000000001",
            True,
            "presence-poker-3f2b8c1e-0000-4000-8000-000000000001",
        ),
        ("location-loc1", True, "private-location-loc1"),
        ("conversation-c1", True, "private-conversation-c1"),
        ("poker-1", False, "poker-1"),
    ],  # fmt: skip
)
def test_topic_to_channel(topic: str, private: bool, channel: str) -> None:
    assert topic_to_channel(topic, private) == channel


@pytest.mark.parametrize(
    ("topic", "private"),
    [
        ("room:1", False),
        ("", False),
        ("", True),
        ("a b", True),
        ("x" * 200, True),
    ],
)
def test_topics_that_cannot_be_channels_raise(topic: str, private: bool) -> None:
    with pytest.raises(InvalidTopic):
        topic_to_channel(topic, private)


# Client frames


def test_parse_client_frames() -> None:
    assert parse_client_frame('{"event":"pusher:ping","data":{}}') == Ping()
    subscribe = '{"event":"pusher:subscribe","data":{"channel":"c","auth":"k:s"}}'
    assert parse_client_frame(subscribe) == Subscribe(channel="c", auth="k:s")
    # Some clients send `data` as a JSON string.
    as_string = json.dumps(
        {"event": "pusher:signin", "data": json.dumps({"auth": "a", "user_data": "{}"})}
    )
    assert parse_client_frame(as_string) == Signin(auth="a", user_data="{}")
    client = '{"event":"client-x","channel":"private-c","data":{"v":1}}'
    assert parse_client_frame(client) == ClientEvent(
        event="client-x", channel="private-c", data={"v": 1}
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        '{"event":1}',
        '{"event":"pusher:nope"}',
        '{"event":"pusher:subscribe","data":[1]}',
        "{oops",
    ],
)
def test_unusable_frames_raise_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_client_frame(text)
