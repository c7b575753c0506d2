"""Webhook signatures of Twilio and SignalWire (cXML/LaML form posts). Pure functions.

    X-Twilio-Signature / X-SignalWire-Signature =
        base64(HMAC-SHA1(key, url + every POST name+value, names sorted, values sorted))

The key is Twilio's Auth Token or SignalWire's project Signing Key. The URL is the one the
provider called, rebuilt from our configured public base URL (behind a proxy the request's own
Host is not what was signed); like the official validators we accept the URL with and without
its default port. SignalWire sends `X-SignalWire-Signature` and accepts `X-Twilio-Signature`
as an alias, so both header names are read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

HEADERS = ("x-signalwire-signature", "x-twilio-signature")


def compute(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature of a form post of `params` (pairs, names may repeat) to `url`."""
    grouped: dict[str, set[str]] = {}
    for name, value in params:
        grouped.setdefault(name, set()).add(value)
    text = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """`url` without its port and with one (the default if it had none): the providers sign
    either form, so the official validators try both."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return [url]
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    default = 443 if parts.scheme in ("https", "wss") else 80
    without_port = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    return list(dict.fromkeys([url, without_port, with_port]))


def signature_of(headers: Mapping[str, str]) -> str | None:
    """The signature header's value, whichever of the two names carries it."""
    for name in HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


def valid(key: str, url: str, params: Iterable[tuple[str, str]], signature: str | None) -> bool:
    """Whether `signature` signs this post for `key` (constant-time comparison)."""
    if not key or not signature:
        return False
    pairs = list(params)
    given = signature.encode()
    matches = [
        hmac.compare_digest(compute(key, variant, pairs).encode(), given)
        for variant in url_variants(url)
    ]
    return any(matches)
