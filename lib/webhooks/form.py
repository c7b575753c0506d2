"""Twilio and SignalWire (cXML/LaML) form posts.

    X-Twilio-Signature / X-SignalWire-Signature =
        base64(HMAC-SHA1(key, url + every POST name+value, names sorted, values sorted))

The key is Twilio's Auth Token or SignalWire's project Signing Key. The URL is `Delivery.url`,
the one the provider called, rebuilt from our public base URL (behind a proxy the request's own
Host is not what was signed); like Twilio's validator we also accept it with its default port
added, or its port removed. SignalWire sends X-SignalWire-Signature and accepts X-Twilio-Signature
as an alias, so either header is read. Only form bodies are signed this way (JSON bodies use a
`bodySHA256` URL parameter, not supported): anything else is UnsupportedMediaType.

    payload     the form fields, {name: value}, blank values kept (a repeated name: the last)
    event_id    None (the provider sends none per request: ingest hashes the body)
    event_type  the constructor's `event_type` ("call.incoming", ...)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from lib.errors import BadRequest, Unauthorized, UnsupportedMediaType
from lib.webhooks.verifiers import Delivery, Verified

HEADERS = ("x-signalwire-signature", "x-twilio-signature")
FORM = "application/x-www-form-urlencoded"


class FormVerifier:
    def __init__(self, key: str, *, event_type: str) -> None:
        if not key:
            raise ValueError("a Twilio Auth Token or SignalWire Signing Key is required")
        self._key = key
        self._event_type = event_type

    def __repr__(self) -> str:
        return f"FormVerifier(key='***', event_type={self._event_type!r})"

    def verify(self, delivery: Delivery) -> Verified:
        """The form fields if this post to `delivery.url` was signed with our key, else
        Unauthorized; UnsupportedMediaType/BadRequest for a body that is not a form."""
        given = _signature(delivery)
        if not delivery.url:
            raise ValueError("Delivery.url is required to check a form signature")
        pairs = form_fields(delivery)
        expected = [compute(self._key, url, pairs) for url in url_variants(delivery.url)]
        if not any(hmac.compare_digest(e.encode(), given.encode()) for e in expected):
            raise Unauthorized(f"the form signature does not match the body and {delivery.url}")
        return Verified(payload=dict(pairs), event_id=None, event_type=self._event_type)


def _signature(delivery: Delivery) -> str:
    for name in HEADERS:
        value = (delivery.headers.get(name) or "").strip()
        if value:
            return value
    raise Unauthorized("the X-Twilio-Signature / X-SignalWire-Signature header is missing")


def form_fields(delivery: Delivery) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form body, in order, blank values kept."""
    media_type = (delivery.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise UnsupportedMediaType(f"a form webhook is {FORM}, not {media_type or 'untyped'}")
    try:
        text = delivery.body.decode()
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except ValueError as exc:
        raise BadRequest(f"the webhook body is not valid {FORM}") from exc


def compute(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature of a form post of `params` (names may repeat) to `url`."""
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    text = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def url_variants(url: str) -> list[str]:
    """`url` as given, without its port, and with one (the default if it had none): the providers
    sign either form, so the official validators try both."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    default = 443 if parts.scheme == "https" else 80
    without_port = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    return list(dict.fromkeys([url, without_port, with_port]))
