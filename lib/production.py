"""What production refuses to start with, declared as data in one place.

`problems(settings, env)` lists every broken rule; `check(settings, env)` raises one
ConfigurationError naming each variable and its rule. Services.from_env runs it at every
app's first request (the cold start) when the environment is production, so a misconfigured
deployment answers every request with that JSON 500 instead of half-working:

    REALTIME_PROVIDER=memory        events would stay in one instance's memory
    NOTIFY_SMS_PROVIDER=log,        the log notifier writes message text to the logs and
    NOTIFY_EMAIL_PROVIDER=log       marks it sent
    SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, PUSHER_APP_ID/KEY/SECRET (with pusher) blank
    CRON_SECRET blank               the cron paths would refuse Vercel's calls
    Clerk without issuer/parties    CLERK_JWT_KEY or CLERK_JWKS_URL set needs CLERK_ISSUER and
                                    CLERK_AUTHORIZED_PARTIES (any Clerk app's token would pass)
    a local URL in a provider       127.0.0.1 / localhost / 0.0.0.0 / ::1 in SUPABASE_URL,
    setting                         PUSHER_HOST, PUBLIC_BASE_URL, ... (LOCAL_URLS), and the
                                    ones features name (BRIDGE_URL, GHL_API_URL, STRIPE_API_BASE...)

Features add their own rules in their declaration (`Feature(production_urls=...,
production_rules=...)`, e.g. billing refuses STRIPE_SECRET_KEY without its webhook secret and
prices); Bundle.services checks them with core's, in one error.

Development and preview are not checked (preview deployments may use the log notifier).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lib.config import Settings
from lib.errors import ConfigurationError

LOCAL_NAMES = frozenset({"localhost", "0.0.0.0", "::1", "::"})

LOCAL_URLS: tuple[tuple[str, Callable[[Settings, Mapping[str, str]], str | None]], ...] = (
    ("SUPABASE_URL", lambda s, env: s.supabase_url),
    ("SUPABASE_JWKS_URL", lambda s, env: s.supabase_jwks_url),
    ("PUSHER_HOST", lambda s, env: s.pusher_host),
    ("PUBLIC_BASE_URL", lambda s, env: s.public_base_url),
    ("TWILIO_API_URL", lambda s, env: s.twilio_api_url),
    ("SENDGRID_API_URL", lambda s, env: s.sendgrid_api_url),
    ("SIGNALWIRE_SPACE_URL", lambda s, env: s.signalwire_space_url),
    ("CLERK_JWKS_URL", lambda s, env: s.clerk_jwks_url),
    ("CLERK_ISSUER", lambda s, env: s.clerk_issuer),
)
"""Core provider settings that must not point at this machine in production (the effective
value: SUPABASE_URL left unset means its local default). A feature names its own in
`Feature(production_urls=...)`, checked the same way (`local_urls`)."""


@dataclass(frozen=True)
class Problem:
    variable: str
    rule: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.rule}"


NOT_LOCAL = "must not be a local address (127.0.0.1, localhost, 0.0.0.0, ::1) in production"


@dataclass(frozen=True)
class Rule:
    """A production rule: `broken(settings, env)` yields the variables it names, if broken."""

    rule: str
    broken: Callable[[Settings, Mapping[str, str]], Iterator[str]]


def _when(condition: Callable[[Settings], bool], *variables: str) -> Callable[..., Iterator[str]]:
    def broken(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
        if condition(settings):
            yield from variables

    return broken


def _clerk_unbound(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
    if settings.clerk_jwt_key or settings.clerk_jwks_url:
        if not settings.clerk_issuer:
            yield "CLERK_ISSUER"
        if not settings.clerk_authorized_parties:
            yield "CLERK_AUTHORIZED_PARTIES"


def _blank_required(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
    required = {
        "SUPABASE_URL": settings.supabase_url,
        "SUPABASE_SERVICE_ROLE_KEY": settings.supabase_service_role_key.get(),
    }
    if settings.realtime_provider == "pusher":
        required |= {
            "PUSHER_APP_ID": settings.pusher_app_id,
            "PUSHER_KEY": settings.pusher_key,
            "PUSHER_SECRET": settings.pusher_secret.get(),
        }
    yield from (variable for variable, value in required.items() if not value)


def _local_urls(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
    for variable, value_of in LOCAL_URLS:
        value = value_of(settings, env)
        if value and is_local(value):
            yield variable


RULES: tuple[Rule, ...] = (
    Rule("must be set (PUSHER_* when REALTIME_PROVIDER=pusher)", _blank_required),
    Rule(
        "must be pusher or supabase: memory keeps events inside one instance",
        _when(lambda s: s.realtime_provider == "memory", "REALTIME_PROVIDER"),
    ),
    Rule(
        "must be twilio: log writes the message text to the logs and marks it sent",
        _when(lambda s: s.notify_sms_provider == "log", "NOTIFY_SMS_PROVIDER"),
    ),
    Rule(
        "must be sendgrid: log writes the message text to the logs and marks it sent",
        _when(lambda s: s.notify_email_provider == "log", "NOTIFY_EMAIL_PROVIDER"),
    ),
    Rule(
        "must be set: Vercel sends it to the cron paths, which refuse everyone without it",
        _when(lambda s: not s.cron_secret, "CRON_SECRET"),
    ),
    Rule(
        "must be set when CLERK_JWT_KEY or CLERK_JWKS_URL is: else any Clerk app's token passes",
        _clerk_unbound,
    ),
    Rule(NOT_LOCAL, _local_urls),
)


def is_local(value: str) -> bool:
    """Does this URL (or bare host[:port]) name this machine?"""
    host = urlsplit(value if "://" in value else f"//{value}").hostname or ""
    host = host.strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def local_urls(*variables: str) -> Rule:
    """A rule: these environment variables (a feature's URLs), when set, are not local."""

    def broken(settings: Settings, env: Mapping[str, str]) -> Iterator[str]:
        yield from (v for v in variables if is_local(env.get(v, "").strip()))

    return Rule(
        "must not be a local address (127.0.0.1, localhost, 0.0.0.0, ::1) in production", broken
    )


def problems(
    settings: Settings, env: Mapping[str, str], extra: Sequence[Rule] = ()
) -> list[Problem]:
    """Every production rule these settings break — core's RULES and the features' `extra`
    (none outside production)."""
    if settings.environment != "production":
        return []
    return [
        Problem(variable, rule.rule)
        for rule in (*RULES, *extra)
        for variable in rule.broken(settings, env)
    ]


def check(settings: Settings, env: Mapping[str, str], extra: Sequence[Rule] = ()) -> None:
    """Raise one ConfigurationError listing every broken production rule."""
    found = problems(settings, env, extra)
    if found:
        raise ConfigurationError(
            "production configuration refused: " + "; ".join(str(p) for p in found),
            details={"problems": [{"variable": p.variable, "rule": p.rule} for p in found]},
        )
