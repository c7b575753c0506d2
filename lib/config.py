"""Typed settings, read from the environment once per cold start and passed down.

`load_settings(env)` is pure (tests hand it a dict). An app reads its environment once, at its
first request, into the `Services` it hands down (lib.services); nothing else reads it.
Secrets are `Secret` values: their repr is masked, `.get()` reveals them.

The environment defaults to production: development (stack traces in error bodies, local
URLs, the log notifier, the memory publisher) is opt-in with SOCKLESS_ENV=development (what
`make dev` writes to .env) or VERCEL_ENV=development. What production refuses is listed in
lib.production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

Environment = Literal["development", "preview", "production"]
RealtimeProvider = Literal["pusher", "supabase", "memory"]
VoiceProvider = Literal["signalwire", "twilio"]
SmsProvider = Literal["log", "off", "twilio"]
EmailProvider = Literal["log", "off", "sendgrid"]


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: Environment = "production"
    version: str = "dev"
    supabase_url: str = "http://127.0.0.1:54321"
    supabase_anon_key: Secret = field(default_factory=lambda: Secret(""))
    supabase_service_role_key: Secret = field(default_factory=lambda: Secret(""))
    supabase_jwt_secret: Secret = field(default_factory=lambda: Secret(""))
    realtime_provider: RealtimeProvider = "pusher"
    pusher_app_id: str = ""
    pusher_key: str = ""
    pusher_secret: Secret = field(default_factory=lambda: Secret(""))
    pusher_cluster: str = "mt1"
    pusher_host: str | None = None
    pusher_port: int | None = None
    cron_secret: Secret = field(default_factory=lambda: Secret(""))
    db_timeout_s: float = 5.0
    # auth (lib.auth): Clerk RS256 by PEM or JWKS; Supabase HS256 by secret or JWKS
    clerk_jwt_key: str | None = None
    clerk_jwks_url: str | None = None
    clerk_authorized_parties: tuple[str, ...] = ()
    clerk_issuer: str | None = None
    """The Clerk Frontend API URL tokens must carry as `iss` (CLERK_ISSUER); production."""
    clerk_audience: tuple[str, ...] = ()  # accepted `aud` values; others are refused
    supabase_jwks_url: str | None = None
    # private-encrypted- channels: 32-byte master key, base64 (blank = not offered)
    pusher_encryption_master_key: Secret = field(default_factory=lambda: Secret(""))
    # per-user limit on /api/realtime/auth and /api/realtime/user-auth (lib.ratelimit)
    realtime_auth_rate_limit: int = 120
    realtime_auth_rate_window_s: int = 60
    # the `cleanup` cron deletes cron_runs older than this
    cron_runs_retention_days: int = 30
    # telephony (calls, SMS notifications); webhooks are verified against public_base_url + path
    public_base_url: str = ""
    voice_provider: VoiceProvider = "signalwire"
    signalwire_project_id: str = ""
    signalwire_api_token: Secret = field(default_factory=lambda: Secret(""))
    signalwire_signing_key: Secret = field(default_factory=lambda: Secret(""))
    signalwire_space_url: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: Secret = field(default_factory=lambda: Secret(""))
    twilio_api_url: str = "https://api.twilio.com"
    # offline notifications (lib.notify, the notify-offline cron); Twilio SMS reuses TWILIO_*
    notify_sms_provider: SmsProvider = "log"
    notify_email_provider: EmailProvider = "log"
    notify_from_number: str = ""
    notify_from_email: str = ""
    notify_from_name: str = "Sockless"
    sendgrid_api_key: Secret = field(default_factory=lambda: Secret(""))
    sendgrid_api_url: str = "https://api.sendgrid.com"
    # CORS (lib.cors): exact browser origins allowed to call the functions, or ("*",); () = none
    cors_allowed_origins: tuple[str, ...] = ()
    cors_max_age_s: int = 600
    # webhook signing keys (lib.webhooks.providers); GHL keys are PEM, blank = HighLevel's own
    stripe_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    clerk_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    ghl_webhook_ed25519_public_key: str = ""
    ghl_webhook_rsa_public_key: str = ""
    # operators: user ids (token `sub`) allowed the webhooks.* procedures
    admin_user_ids: frozenset[str] = frozenset()

    @property
    def debug(self) -> bool:
        """Stack traces in error bodies only when developing locally."""
        return self.environment == "development"

    @property
    def voice_signing_key(self) -> Secret:
        """What signs the provider's webhooks: SignalWire's Signing Key or Twilio's Auth Token."""
        if self.voice_provider == "signalwire":
            return self.signalwire_signing_key
        return self.twilio_auth_token


def choice[T: str](value: str, allowed: tuple[T, ...], name: str) -> T:
    for option in allowed:
        if value == option:
            return option
    raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")


def _origins(value: str) -> tuple[str, ...]:
    """CORS_ALLOWED_ORIGINS: comma-separated `scheme://host[:port]`, or `*` alone."""
    origins = tuple(
        dict.fromkeys(o.strip().rstrip("/").lower() for o in value.split(",") if o.strip())
    )
    if "*" in origins:
        if len(origins) > 1:
            raise ValueError("CORS_ALLOWED_ORIGINS: '*' cannot be combined with listed origins")
        return origins
    for origin in origins:
        parts = urlsplit(origin)
        extra = parts.path or parts.query or parts.fragment
        if parts.scheme not in ("http", "https") or not parts.netloc or extra:
            raise ValueError(
                f"CORS_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port])"
            )
    return origins


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping; raises ValueError naming a bad variable."""

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    def secret(name: str) -> Secret:
        return Secret(get(name))

    port = get("PUSHER_PORT")
    environment = get("SOCKLESS_ENV") or get("VERCEL_ENV") or "production"
    return Settings(
        environment=choice(environment, ("development", "preview", "production"), "SOCKLESS_ENV"),
        version=get("VERCEL_GIT_COMMIT_SHA")[:12] or get("SOCKLESS_VERSION") or "dev",
        supabase_url=get("SUPABASE_URL", "http://127.0.0.1:54321").rstrip("/"),
        supabase_anon_key=secret("SUPABASE_ANON_KEY"),
        supabase_service_role_key=secret("SUPABASE_SERVICE_ROLE_KEY"),
        supabase_jwt_secret=secret("SUPABASE_JWT_SECRET"),
        realtime_provider=choice(
            get("REALTIME_PROVIDER", "pusher"),
            ("pusher", "supabase", "memory"),
            "REALTIME_PROVIDER",
        ),
        pusher_app_id=get("PUSHER_APP_ID"),
        pusher_key=get("PUSHER_KEY"),
        pusher_secret=secret("PUSHER_SECRET"),
        pusher_cluster=get("PUSHER_CLUSTER", "mt1"),
        pusher_host=get("PUSHER_HOST") or None,
        pusher_port=int(port) if port else None,
        cron_secret=secret("CRON_SECRET"),
        db_timeout_s=float(get("SUPABASE_TIMEOUT_S", "5") or 5),
        clerk_jwt_key=get("CLERK_JWT_KEY").replace("\\n", "\n") or None,
        clerk_jwks_url=get("CLERK_JWKS_URL") or None,
        clerk_authorized_parties=tuple(
            party.strip().rstrip("/")
            for party in get("CLERK_AUTHORIZED_PARTIES").split(",")
            if party.strip()
        ),
        clerk_issuer=get("CLERK_ISSUER").rstrip("/") or None,
        clerk_audience=tuple(a.strip() for a in get("CLERK_AUDIENCE").split(",") if a.strip()),
        supabase_jwks_url=get("SUPABASE_JWKS_URL") or None,
        pusher_encryption_master_key=secret("PUSHER_ENCRYPTION_MASTER_KEY_BASE64"),
        realtime_auth_rate_limit=int(get("REALTIME_AUTH_RATE_LIMIT") or 120),
        realtime_auth_rate_window_s=int(get("REALTIME_AUTH_RATE_WINDOW_S") or 60),
        cron_runs_retention_days=int(get("CRON_RUNS_RETENTION_DAYS") or 30),
        public_base_url=get("PUBLIC_BASE_URL").rstrip("/"),
        voice_provider=choice(
            get("VOICE_PROVIDER", "signalwire"), ("signalwire", "twilio"), "VOICE_PROVIDER"
        ),
        signalwire_project_id=get("SIGNALWIRE_PROJECT_ID"),
        signalwire_api_token=secret("SIGNALWIRE_API_TOKEN"),
        signalwire_signing_key=secret("SIGNALWIRE_SIGNING_KEY"),
        signalwire_space_url=get("SIGNALWIRE_SPACE_URL").rstrip("/"),
        twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=secret("TWILIO_AUTH_TOKEN"),
        twilio_api_url=get("TWILIO_API_URL", "https://api.twilio.com").rstrip("/"),
        notify_sms_provider=choice(
            get("NOTIFY_SMS_PROVIDER", "log"), ("log", "off", "twilio"), "NOTIFY_SMS_PROVIDER"
        ),
        notify_email_provider=choice(
            get("NOTIFY_EMAIL_PROVIDER", "log"), ("log", "off", "sendgrid"), "NOTIFY_EMAIL_PROVIDER"
        ),
        notify_from_number=get("NOTIFY_FROM_NUMBER"),
        notify_from_email=get("NOTIFY_FROM_EMAIL"),
        notify_from_name=get("NOTIFY_FROM_NAME", "Sockless") or "Sockless",
        sendgrid_api_key=secret("SENDGRID_API_KEY"),
        sendgrid_api_url=get("SENDGRID_API_URL", "https://api.sendgrid.com").rstrip("/"),
        cors_allowed_origins=_origins(get("CORS_ALLOWED_ORIGINS")),
        cors_max_age_s=int(get("CORS_MAX_AGE_S") or 600),
        stripe_webhook_secret=secret("STRIPE_WEBHOOK_SECRET"),
        clerk_webhook_secret=secret("CLERK_WEBHOOK_SECRET"),
        ghl_webhook_ed25519_public_key=get("GHL_WEBHOOK_ED25519_PUBLIC_KEY").replace("\\n", "\n"),
        ghl_webhook_rsa_public_key=get("GHL_WEBHOOK_RSA_PUBLIC_KEY").replace("\\n", "\n"),
        admin_user_ids=frozenset(
            user.strip() for user in get("ADMIN_USER_IDS").split(",") if user.strip()
        ),
    )
