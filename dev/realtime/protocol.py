"""Pusher Channels protocol 7: frames a client sends, parsed; frames the server sends, built.

Pure: text in, typed values or text out. Server-sent `data` is a JSON-encoded string, as
Pusher sends it (pusher-js decodes either form); `pusher:error` data stays an object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

SUPPORTED_PROTOCOLS = range(5, 8)


class Code(IntEnum):
    """Close and error codes in Pusher's ranges; pusher-js decides what to do from the range:
    4000-4099 refused (no reconnect), 4100-4199 back off, 4200-4299 reconnect now, 4300+ refused."""

    UNKNOWN_APP = 4001
    UNSUPPORTED_PROTOCOL = 4007
    UNAUTHORIZED = 4009
    """Failed sign-in, or terminated through the HTTP API."""
    OVER_CAPACITY = 4100
    """The client could not keep up with its messages."""
    SERVER_SHUTDOWN = 4200
    PONG_TIMEOUT = 4201
    CLIENT_EVENT_REJECTED = 4301


class ProtocolError(Exception):
    """A client frame the server cannot act on; answered with `pusher:error`, never a close."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Pong:
    pass


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: object
    auth: object = None
    channel_data: object = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: object


@dataclass(frozen=True, slots=True)
class Signin:
    auth: object
    user_data: object


@dataclass(frozen=True, slots=True)
class ClientEvent:
    event: str
    channel: object
    data: object


ClientFrame = Ping | Pong | Subscribe | Unsubscribe | Signin | ClientEvent


def _data_object(raw: object) -> dict[str, Any]:
    """`data` of a pusher:* frame: an object, or a JSON string holding one (older clients)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProtocolError("'data' must be an object")
    return raw


def parse_client_frame(text: str) -> ClientFrame:
    """Parse one text frame from a client. Raises ProtocolError for anything unusable."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("Frame is not valid JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise ProtocolError("Frame must be a JSON object with a string 'event'")
    event: str = message["event"]
    if event.startswith("client-"):
        return ClientEvent(event=event, channel=message.get("channel"), data=message.get("data"))
    match event:
        case "pusher:ping":
            return Ping()
        case "pusher:pong":
            return Pong()
        case "pusher:subscribe":
            data = _data_object(message.get("data"))
            return Subscribe(
                channel=data.get("channel"),
                auth=data.get("auth"),
                channel_data=data.get("channel_data"),
            )
        case "pusher:unsubscribe":
            return Unsubscribe(channel=_data_object(message.get("data")).get("channel"))
        case "pusher:signin":
            data = _data_object(message.get("data"))
            return Signin(auth=data.get("auth"), user_data=data.get("user_data"))
    raise ProtocolError(f"Unsupported event {event[:64]!r}")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def frame(
    event: str, data: object = None, *, channel: str | None = None, user_id: str | None = None
) -> str:
    """A server frame. `data` that is not already a string is JSON-encoded into one."""
    message: dict[str, object] = {"event": event}
    if channel is not None:
        message["channel"] = channel
    if data is not None:
        message["data"] = data if isinstance(data, str) else _dumps(data)
    if user_id is not None:
        message["user_id"] = user_id
    return _dumps(message)


def connection_established(socket_id: str, activity_timeout: int) -> str:
    return frame(
        "pusher:connection_established",
        {"socket_id": socket_id, "activity_timeout": activity_timeout},
    )


def error(message: str, code: int | None = None, *, channel: str | None = None) -> str:
    body: dict[str, object] = {"event": "pusher:error", "data": {"code": code, "message": message}}
    if channel is not None:
        body["channel"] = channel
    return _dumps(body)


def ping() -> str:
    return frame("pusher:ping", {})


def pong() -> str:
    return frame("pusher:pong", {})


def subscription_succeeded(channel: str, presence: dict[str, object] | None = None) -> str:
    data = {} if presence is None else {"presence": presence}
    return frame("pusher_internal:subscription_succeeded", data, channel=channel)


def subscription_error(channel: str, *, kind: str, message: str, status: int) -> str:
    return frame(
        "pusher:subscription_error",
        {"type": kind, "error": message, "status": status},
        channel=channel,
    )


def member_added(channel: str, user_id: str, user_info: object) -> str:
    return frame(
        "pusher_internal:member_added",
        {"user_id": user_id, "user_info": user_info},
        channel=channel,
    )


def member_removed(channel: str, user_id: str) -> str:
    return frame("pusher_internal:member_removed", {"user_id": user_id}, channel=channel)


def cache_miss(channel: str) -> str:
    return frame("pusher:cache_miss", channel=channel)


def signin_success(user_data: str) -> str:
    return frame("pusher:signin_success", {"user_data": user_data})


def channel_event(channel: str, event: str, data: object, *, user_id: str | None = None) -> str:
    """An event on a channel. String data (the HTTP API's) is passed through untouched."""
    return frame(event, data, channel=channel, user_id=user_id)
