"""The local .env: read it, and write it from .env.example plus generated local secrets.

Values already in .env are kept, so the keys a developer pasted into a front end stay valid
across restarts; blank secrets are generated once.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parent.parent
TEN_YEARS_S = 10 * 365 * 24 * 3600
LOCAL_DEFAULTS = {"SOCKLESS_ENV": "development"}
"""Blank in .env.example (a deployment defaults to production); what a local .env says."""


def parse(text: str) -> dict[str, str]:
    """KEY=value lines; blank lines and # comments ignored; surrounding quotes stripped."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


TAGS = ("[required in production]", "[optional]", "[dev only]")


def tags(text: str) -> dict[str, str]:
    """.env.example's variables -> their tags (comma-joined when several): from the comment
    block above each, or shared with the variable on the line above when there is none."""
    found: dict[str, str] = {}
    block: list[str] = []
    previous: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if previous is not None:
                block, previous = [], None
            block.append(line)
        elif "=" in line:
            name = line.partition("=")[0].strip()
            named = [tag for tag in TAGS if any(tag in comment for comment in block)]
            found[name] = found[previous] if previous and not block else ",".join(named)
            if block:
                block = []
            previous = name
        else:
            block, previous = [], None
    return found


def read(path: Path) -> dict[str, str]:
    return parse(path.read_text()) if path.exists() else {}


def role_key(jwt_secret: str, role: str) -> str:
    """A Supabase-style API key: a long-lived HS256 JWT carrying only the role."""
    now = int(time.time())
    claims = {"iss": "supabase-local", "role": role, "iat": now, "exp": now + TEN_YEARS_S}
    return jwt.encode(claims, jwt_secret, algorithm="HS256")


def webhook_secrets() -> dict[str, str]:
    """A local signing secret for every webhook provider, in that provider's own format, so
    each can be exercised with its real scheme: Stripe's and Clerk's (Svix) `whsec_` secrets,
    and an Ed25519 key pair standing in for HighLevel's (the public half is what the api
    checks; the private half signs the local stand-in's deliveries)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(24),
        "CLERK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "GHL_WEBHOOK_ED25519_PUBLIC_KEY": public.decode().strip().replace("\n", "\\n"),
        "GHL_DEV_SIGNING_KEY": private.decode().strip().replace("\n", "\\n"),
    }


def crm_secrets() -> dict[str, str]:
    """The CRM's local secrets: our HighLevel OAuth client (the local stand-in, dev/ghl_api.py,
    accepts exactly these), the Fernet key the locations' tokens are encrypted with, and the
    quote links' HMAC secret."""
    from cryptography.fernet import Fernet

    return {
        "GHL_CLIENT_ID": "localapp-" + secrets.token_hex(6),
        "GHL_CLIENT_SECRET": secrets.token_urlsafe(24),
        "CRM_TOKEN_KEY": Fernet.generate_key().decode(),
        "CRM_QUOTE_TOKEN_SECRET": secrets.token_urlsafe(32),
    }


def trading_secrets() -> dict[str, str]:
    """The trading feature's local secret: the Fernet key broker secrets are encrypted with."""
    from cryptography.fernet import Fernet

    return {"TRADING_TOKEN_KEY": Fernet.generate_key().decode()}


def generated(current: Mapping[str, str]) -> dict[str, str]:
    """Local secrets for every blank generated variable, consistent with each other."""
    jwt_secret = current.get("SUPABASE_JWT_SECRET") or secrets.token_urlsafe(40)
    fresh = {
        "SUPABASE_JWT_SECRET": jwt_secret,
        "SUPABASE_ANON_KEY": role_key(jwt_secret, "anon"),
        "SUPABASE_SERVICE_ROLE_KEY": role_key(jwt_secret, "service_role"),
        "CRON_SECRET": secrets.token_urlsafe(32),
        "PUSHER_APP_ID": str(secrets.randbelow(9_000_000) + 1_000_000),
        "PUSHER_KEY": secrets.token_hex(10),
        "PUSHER_SECRET": secrets.token_hex(20),
        "BRIDGE_TOKEN_SECRET": secrets.token_urlsafe(32),
        "BRIDGE_PATH_SECRET": secrets.token_urlsafe(24),
        "SIGNALWIRE_SIGNING_KEY": secrets.token_urlsafe(24),
        "PUSHER_ENCRYPTION_MASTER_KEY_BASE64": base64.b64encode(secrets.token_bytes(32)).decode(),
        **webhook_secrets(),
        **crm_secrets(),
        **trading_secrets(),
    }
    keys_match_secret = "SUPABASE_JWT_SECRET" in current
    result = {}
    for key, value in fresh.items():
        keep = current.get(key)
        if key in ("SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY") and not keys_match_secret:
            keep = None
        result[key] = keep or value
    return result


def write_local_env(
    *, example: Path = ROOT / ".env.example", target: Path = ROOT / ".env"
) -> dict[str, str]:
    """Create or complete `target` from `example`; returns the resulting values."""
    existing = {k: v for k, v in read(target).items() if v}
    values = {**read(example), **existing}
    for key, value in LOCAL_DEFAULTS.items():
        values[key] = values.get(key) or value
    values.update(generated(existing))
    lines: list[str] = []
    written: set[str] = set()
    for raw in example.read_text().splitlines():
        key = raw.partition("=")[0].strip()
        if raw.strip() and not raw.lstrip().startswith("#") and "=" in raw:
            lines.append(f"{key}={values[key]}")
            written.add(key)
        else:
            lines.append(raw)
    extra = [f"{k}={v}" for k, v in existing.items() if k not in written]
    if extra:
        lines += ["", "# --- Yours (not in .env.example) ---", *extra]
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    return values


def load_into_environ(path: Path = ROOT / ".env") -> None:
    """Put .env values into os.environ without overriding what the shell already set."""
    for key, value in read(path).items():
        os.environ.setdefault(key, value)
