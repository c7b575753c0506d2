"""Pusher Channels webhooks (channel_occupied, member_added, client_event, ...).

    X-Pusher-Key        the app key: must be ours
    X-Pusher-Signature  hex HMAC-SHA256(app secret, raw body)
    body                {"time_ms": <Unix ms>, "events": [{"name": ..., "channel": ...}, ...]}

As the official SDK's `validate_webhook`, `time_ms` must be within 300 s (`tolerance_s`) of now,
either way; now is `Delivery.now`.

    payload     the body: {"time_ms": int, "events": list}
    event_id    None: Pusher sends no delivery id (ingest dedupes on a hash of the body)
    event_type  "events": one delivery is a batch; the handler reads each event's "name"
"""

from __future__ import annotations

import hashlib
import hmac

from lib.errors import BadRequest, Unauthorized
from lib.webhooks.checks import header, json_object, within
from lib.webhooks.verifiers import Delivery, Verified

TOLERANCE_S = 300
EVENT_TYPE = "events"


class PusherVerifier:
    def __init__(self, key: str, secret: str, tolerance_s: int = TOLERANCE_S) -> None:
        if not (key and secret):
            raise ValueError("Pusher webhooks need the app key and secret")
        self._key = key
        self._secret = secret.encode()
        self._tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return f"PusherVerifier(key={self._key!r}, secret='***', tolerance_s={self._tolerance_s})"

    def verify(self, delivery: Delivery) -> Verified:
        """The batch if our app's secret signed this body and it is fresh, else Unauthorized;
        BadRequest for a signed body that is not a webhook batch."""
        key = header(delivery.headers, "x-pusher-key", label="X-Pusher-Key")
        given = header(delivery.headers, "x-pusher-signature", label="X-Pusher-Signature")
        if not hmac.compare_digest(key.encode(), self._key.encode()):
            raise Unauthorized("X-Pusher-Key is not this app's key")
        expected = hmac.new(self._secret, delivery.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise Unauthorized("X-Pusher-Signature does not match the body")

        payload = json_object(delivery.body, provider="Pusher")
        time_ms, events = payload.get("time_ms"), payload.get("events")
        if type(time_ms) is not int or not isinstance(events, list):  # bool is not a time
            raise BadRequest('a Pusher webhook body is {"time_ms": <int>, "events": [...]}')
        within(time_ms / 1000, now=delivery.now, tolerance_s=self._tolerance_s, label="time_ms")
        return Verified(payload=payload, event_id=None, event_type=EVENT_TYPE)
