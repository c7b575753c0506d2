"""Phoenix channel frames on the wire, in the two serializers Supabase Realtime speaks.

    vsn=1.0.0  JSON object  {"join_ref", "ref", "topic", "event", "payload"}
    vsn=2.0.0  JSON array   [join_ref, ref, topic, event, payload]
               + binary broadcast frames (what @supabase/realtime-js >= 2.6 sends for
               `channel.send({type: 'broadcast', ...})`), first byte = kind:
                 3 user_broadcast_push (client -> server):
                   kind, len(join_ref), len(ref), len(topic), len(event), len(metadata),
                   encoding (0 binary, 1 JSON), then those strings, then the user payload
                 4 user_broadcast (server -> client):
                   kind, len(topic), len(event), len(metadata), encoding, strings, payload

A binary broadcast is kept as bytes end to end (`Broadcast.raw`): a v2 subscriber gets the
same bytes back in a kind-4 frame, a v1 subscriber the JSON form (binary payloads, which
JSON cannot carry, are not delivered to v1 sockets, as hosted Realtime does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

V1 = "1.0.0"
V2 = "2.0.0"
VERSIONS = (V1, V2)

USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4
JSON_ENCODING = 1


class FrameError(ValueError):
    """A frame that is not a Phoenix message in the socket's serializer."""


@dataclass(frozen=True, slots=True)
class Frame:
    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A broadcast message: `event` with a JSON `payload`, or raw bytes from a v2 client."""

    event: str
    payload: Any = None
    raw: bytes | None = None
    json_encoded: bool = True
    meta: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any] | None:
        """{type, event, payload[, meta]} for JSON frames; None if the payload is binary."""
        if self.raw is not None:
            if not self.json_encoded:
                return None
            payload = json.loads(self.raw)
        else:
            payload = self.payload
        body: dict[str, Any] = {"type": "broadcast", "event": self.event, "payload": payload}
        if self.meta:
            body["meta"] = self.meta
        return body


def decode(data: str | bytes, vsn: str) -> Frame:
    if isinstance(data, bytes):
        if vsn != V2:
            raise FrameError("binary frames need vsn=2.0.0")
        return _decode_binary(data)
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise FrameError("frame is not JSON") from exc
    if vsn == V2:
        if not isinstance(parsed, list) or len(parsed) < 5:
            raise FrameError("expected a [join_ref, ref, topic, event, payload] array")
        join_ref, ref, topic, event, payload = parsed[:5]
    else:
        if not isinstance(parsed, dict):
            raise FrameError("expected a {topic, event, payload, ref} object")
        join_ref, ref = parsed.get("join_ref"), parsed.get("ref")
        topic, event, payload = parsed.get("topic"), parsed.get("event"), parsed.get("payload")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    return Frame(topic, event, payload, _ref(ref), _ref(join_ref))


def _ref(value: Any) -> str | None:
    return None if value is None else str(value)


def _decode_binary(data: bytes) -> Frame:
    if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise FrameError("the only binary frame a client sends is user_broadcast_push (3)")
    sizes = data[1:6]
    encoding = data[6]
    offset = 7
    parts: list[str] = []
    for size in sizes:
        chunk = data[offset : offset + size]
        if len(chunk) != size:
            raise FrameError("binary frame is shorter than its header says")
        parts.append(chunk.decode("utf-8", errors="strict"))
        offset += size
    join_ref, ref, topic, event, metadata = parts
    try:
        meta = json.loads(metadata) if metadata else None
    except ValueError as exc:
        raise FrameError("binary frame metadata is not JSON") from exc
    raw = data[offset:]
    if encoding == JSON_ENCODING:
        try:
            json.loads(raw)
        except ValueError as exc:
            raise FrameError("binary frame says JSON but its payload is not") from exc
    message = Broadcast(event=event, raw=raw, json_encoded=encoding == JSON_ENCODING, meta=meta)
    return Frame(topic, "broadcast", message, ref or None, join_ref or None)


def encode(frame: Frame, vsn: str) -> str | bytes | None:
    """The frame for a `vsn` socket (None: this socket cannot receive it)."""
    payload = frame.payload
    if isinstance(payload, Broadcast):
        if vsn == V2 and payload.raw is not None:
            return _encode_user_broadcast(frame.topic, payload)
        payload = payload.as_json()
        if payload is None:
            return None
    if vsn == V2:
        return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, payload])
    return json.dumps(
        {
            "topic": frame.topic,
            "event": frame.event,
            "payload": payload,
            "ref": frame.ref,
            "join_ref": frame.join_ref,
        }
    )


def _encode_user_broadcast(topic: str, message: Broadcast) -> bytes:
    assert message.raw is not None
    topic_b, event_b = topic.encode(), message.event.encode()
    meta_b = json.dumps(message.meta).encode() if message.meta else b""
    header = bytes(
        [
            USER_BROADCAST,
            len(topic_b),
            len(event_b),
            len(meta_b),
            JSON_ENCODING if message.json_encoded else 0,
        ]
    )
    return header + topic_b + event_b + meta_b + message.raw


def ws_frame(data: str | bytes) -> bytes:
    """A server-to-client WebSocket frame (unmasked, FIN): text for str, binary for bytes."""
    payload = data.encode() if isinstance(data, str) else data
    first = 0x81 if isinstance(data, str) else 0x82
    size = len(payload)
    if size < 126:
        header = bytes([first, size])
    elif size < 65536:
        header = bytes([first, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([first, 127]) + size.to_bytes(8, "big")
    return header + payload
