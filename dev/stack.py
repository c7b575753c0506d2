"""The whole local stack: `python -m dev.stack` (what `make dev` runs) and the test fixture.

Starts, in order: Postgres (embedded) -> bootstrap + migrations (+ seed) -> PostgREST ->
the Supabase gateway -> the api/ functions (Vercel emulation with crons). Prints the URLs
and keys, logs each piece to `.data/logs/`, and on Ctrl-C (SIGINT) or SIGTERM stops every
process it started. `.data/stack.json` records what is running (urls, pids) while it runs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dev import env as dev_env
from dev import migrate, postgres
from dev.brokers import FakeBrokers
from dev.demo import demo_app
from dev.env import ROOT, load_into_environ, write_local_env
from dev.gateway import Gateway, PusherForwarder
from dev.ghl_api import FakeHighLevel, signing_key
from dev.ports import PortBusy, bind_socket, ensure_free, free_port
from dev.postgrest import Postgrest
from dev.realtime import RealtimeConfig, ServerAddress, serve_in_thread
from dev.s3 import LocalS3
from dev.servers import BackgroundServer
from dev.stripe_api import CREDITS_PRICE, SUBSCRIPTION_PRICE, LocalStripe, local_secret_key
from dev.supabase_realtime import WEBSOCKET_PATH, SupabaseRealtime
from dev.vercel import VercelDev
from dev.voice import VoiceAddress, serve_voice_in_thread

log = logging.getLogger("sockless.stack")
GHL_API_URL = "http://127.0.0.1:54340"


@dataclass
class StackConfig:
    """Where each piece lives. Port 0 = any free port (tests)."""

    data_dir: Path
    jwt_secret: str
    anon_key: str
    service_role_key: str
    cron_secret: str
    pusher_app_id: str
    pusher_key: str
    pusher_secret: str
    pusher_webhook_url: str | None = None
    pusher_encryption_master_key: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )
    db_port: int = 54322
    gateway_port: int = 54321
    postgrest_port: int = 54329
    api_port: int = 3000
    realtime_port: int = 6001
    bridge_port: int = 8080
    stripe_port: int = 12111
    """The local Stripe (dev/stripe_api.py), started when STRIPE_SECRET_KEY is blank."""
    stripe_secret_key: str = ""
    """STRIPE_SECRET_KEY from .env: set, the api talks to that Stripe and no stand-in runs."""
    storage_port: int = 54350
    """The local S3 (dev/s3.py, moto), started when STORAGE_S3_ENDPOINT is blank."""
    storage_s3_endpoint: str = ""
    """STORAGE_S3_ENDPOINT from .env: set, recordings go there and no local S3 runs."""
    openai_port: int | None = None
    """The fake OpenAI's port; None = the port in OPENAI_REALTIME_URL (8081), 0 = any."""
    bridge_token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    bridge_path_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """The bridge takes streams only at /<this>/media; BRIDGE_URL carries it for the api."""
    voice_signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    webhook_secrets: dict[str, str] = field(default_factory=lambda: dev_env.webhook_secrets())
    """STRIPE_WEBHOOK_SECRET, CLERK_WEBHOOK_SECRET, the local HighLevel key pair (dev.env)."""
    crm_secrets: dict[str, str] = field(default_factory=lambda: dev_env.crm_secrets())
    """GHL_CLIENT_ID/SECRET (the HighLevel stand-in's OAuth client), CRM_TOKEN_KEY,
    CRM_QUOTE_TOKEN_SECRET (dev.env)."""
    trading_secrets: dict[str, str] = field(default_factory=lambda: dev_env.trading_secrets())
    """TRADING_TOKEN_KEY (dev.env)."""
    ghl_api_url: str = GHL_API_URL
    """HighLevel's REST API: a loopback URL gets the local stand-in (dev/ghl_api.py) on its
    port; anything else (the real API) is used as is."""
    ghl_api_port: int | None = None
    """The stand-in's port; None = GHL_API_URL's port (54340), 0 = any free port."""
    public_base_url: str = ""
    """What telephony webhooks are signed against (a tunnel's URL); blank: the api's URL."""
    environment: str = "development"
    """SOCKLESS_ENV the functions run with (production is the default only when deployed)."""
    api: bool = True
    """False (`--no-api`, SOCKLESS_API=off): the api functions are not served here; run them
    under `vercel dev --local --listen <api_port>` instead (README). The realtime server
    still posts its webhooks to the api port."""
    ephemeral: bool = False
    seed: bool = True
    database_url: str | None = None
    project_root: Path = ROOT
    migrations_dir: Path = migrate.MIGRATIONS
    fixtures: tuple[Path, ...] = ()
    """SQL applied after the migrations that is no part of the product (tests, benchmarks)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            data_dir=Path(env.get("SOCKLESS_DATA_DIR") or ROOT / ".data"),
            jwt_secret=env["SUPABASE_JWT_SECRET"],
            anon_key=env["SUPABASE_ANON_KEY"],
            service_role_key=env["SUPABASE_SERVICE_ROLE_KEY"],
            cron_secret=env.get("CRON_SECRET", ""),
            pusher_app_id=env["PUSHER_APP_ID"],
            pusher_key=env["PUSHER_KEY"],
            pusher_secret=env["PUSHER_SECRET"],
            pusher_webhook_url=env.get("PUSHER_WEBHOOK_URL") or None,
            pusher_encryption_master_key=env.get("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", ""),
            db_port=int(env.get("SOCKLESS_DB_PORT") or 54322),
            gateway_port=int(env.get("SOCKLESS_GATEWAY_PORT") or 54321),
            postgrest_port=int(env.get("SOCKLESS_POSTGREST_PORT") or 54329),
            api_port=int(env.get("SOCKLESS_API_PORT") or 3000),
            realtime_port=int(env.get("PUSHER_PORT") or 6001),
            bridge_port=int(env.get("BRIDGE_PORT") or 8080),
            stripe_port=int(env.get("STRIPE_DEV_PORT") or 12111),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY", ""),
            storage_port=int(env.get("STORAGE_DEV_PORT") or 54350),
            storage_s3_endpoint=env.get("STORAGE_S3_ENDPOINT", ""),
            bridge_token_secret=env.get("BRIDGE_TOKEN_SECRET") or secrets.token_urlsafe(32),
            bridge_path_secret=env.get("BRIDGE_PATH_SECRET") or secrets.token_urlsafe(24),
            voice_signing_key=env.get("SIGNALWIRE_SIGNING_KEY") or secrets.token_urlsafe(24),
            webhook_secrets={
                name: env.get(name) or value for name, value in dev_env.webhook_secrets().items()
            },
            crm_secrets={
                name: env.get(name) or value for name, value in dev_env.crm_secrets().items()
            },
            trading_secrets={
                name: env.get(name) or value for name, value in dev_env.trading_secrets().items()
            },
            ghl_api_url=env.get("GHL_API_URL") or GHL_API_URL,
            public_base_url=env.get("PUBLIC_BASE_URL", ""),
            database_url=env.get("DATABASE_URL") or None,
            environment=env.get("SOCKLESS_ENV") or "development",
            api=(env.get("SOCKLESS_API") or "on").lower() not in ("off", "0", "false", "no"),
        )

    @classmethod
    def ephemeral_for_tests(cls, *, jwt_secret: str, cron_secret: str) -> StackConfig:
        from dev.env import role_key

        data_dir = Path(tempfile.mkdtemp(prefix="sockless-test-"))
        data_dir.chmod(0o755)  # the postgres user must reach its data dir
        return cls(
            data_dir=data_dir,
            jwt_secret=jwt_secret,
            anon_key=role_key(jwt_secret, "anon"),
            service_role_key=role_key(jwt_secret, "service_role"),
            cron_secret=cron_secret,
            pusher_app_id=str(secrets.randbelow(9_000_000) + 1_000_000),
            pusher_key=secrets.token_hex(10),
            pusher_secret=secrets.token_hex(20),
            db_port=0,
            gateway_port=0,
            postgrest_port=0,
            api_port=0,
            realtime_port=0,
            bridge_port=0,
            stripe_port=0,
            storage_port=0,
            openai_port=0,
            ghl_api_port=0,
            ephemeral=True,
            seed=False,
            fixtures=(migrate.DEMO_NOTES,),
        )


@dataclass
class Stack:
    config: StackConfig
    pg: postgres.Postgres | None = None
    postgrest: Postgrest | None = None
    gateway: Gateway | None = None
    servers: dict[str, BackgroundServer] = field(default_factory=dict)
    vercel: VercelDev | None = None
    applied_migrations: list[str] = field(default_factory=list)
    realtime: ServerAddress | None = None
    voice: VoiceAddress | None = None
    ghl: FakeHighLevel | None = None
    """The HighLevel stand-in, when GHL_API_URL is local (its state: tests read calls)."""
    stripe: LocalStripe | None = None
    """The local Stripe, when it runs (no STRIPE_SECRET_KEY of your own)."""
    brokers: FakeBrokers | None = None
    """The Alpaca and Tradovate stand-ins (dev/brokers.py; tests read their calls)."""
    s3: LocalS3 | None = None
    """The local S3 for call recordings, when it runs (no STORAGE_S3_ENDPOINT of your own)."""
    api_base_url: str = ""
    _contexts: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _voice: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _realtime: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _realtime_config: RealtimeConfig | None = None

    @property
    def logs(self) -> Path:
        return self.config.data_dir / "logs"

    @property
    def supabase_url(self) -> str:
        return self.servers["gateway"].url

    @property
    def api_url(self) -> str:
        api = self.servers.get("api")
        return api.url if api is not None else self.api_base_url

    def env(self) -> dict[str, str]:
        """What the api functions (and clients in tests) need to reach this stack."""
        return {
            "SOCKLESS_ENV": self.config.environment,
            "SUPABASE_URL": self.supabase_url,
            "SUPABASE_ANON_KEY": self.config.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": self.config.service_role_key,
            "SUPABASE_JWT_SECRET": self.config.jwt_secret,
            "CRON_SECRET": self.config.cron_secret,
            "PUSHER_APP_ID": self.config.pusher_app_id,
            "PUSHER_KEY": self.config.pusher_key,
            "PUSHER_SECRET": self.config.pusher_secret,
            "PUSHER_ENCRYPTION_MASTER_KEY_BASE64": self.config.pusher_encryption_master_key,
            "PUSHER_HOST": self.realtime.host if self.realtime else "",
            "PUSHER_PORT": str(self.realtime.port) if self.realtime else "",
            "BRIDGE_TOKEN_SECRET": self.config.bridge_token_secret,
            "BRIDGE_PATH_SECRET": self.config.bridge_path_secret,
            "SIGNALWIRE_SIGNING_KEY": self.config.voice_signing_key,
            "PUBLIC_BASE_URL": self.config.public_base_url or self.api_base_url,
            "BRIDGE_URL": self.voice.bridge_url if self.voice else "",
            "GHL_API_URL": self.ghl_api_url,
            **self.config.webhook_secrets,
            **self.config.crm_secrets,
            **self._stripe_env(),
            **self.config.trading_secrets,
            **self._broker_urls(),
            **(self.s3.env() if self.s3 else {}),
        }

    def _stripe_env(self) -> dict[str, str]:
        """The api's Stripe settings when the local Stripe stands in for it."""
        if self.stripe is None:
            return {}
        return {
            "STRIPE_SECRET_KEY": self.stripe.secret_key,
            "STRIPE_API_BASE": self.stripe.public_url,
            "STRIPE_PRICE_SUBSCRIPTION": SUBSCRIPTION_PRICE,
            "STRIPE_PRICE_CREDITS": CREDITS_PRICE,
        }

    def _broker_urls(self) -> dict[str, str]:
        server = self.servers.get("brokers")
        if server is None:
            return {}
        return {
            "ALPACA_API_URL": f"{server.url}/alpaca",
            "TRADOVATE_API_URL": f"{server.url}/tradovate",
        }

    @property
    def ghl_api_url(self) -> str:
        fake = self.servers.get("ghl-api")
        return fake.url if fake is not None else self.config.ghl_api_url

    def _port(self, port: int) -> int:
        return port or free_port()

    def start(self) -> Stack:
        cfg = self.config
        self.logs.mkdir(parents=True, exist_ok=True)
        # Fail fast on a busy port, before starting anything.
        checks = [
            (cfg.gateway_port, "Supabase gateway", "SOCKLESS_GATEWAY_PORT"),
            (cfg.postgrest_port, "PostgREST", "SOCKLESS_POSTGREST_PORT"),
            (cfg.api_port if cfg.api else 0, "api functions", "SOCKLESS_API_PORT"),
            (cfg.realtime_port, "Pusher-protocol realtime server", "PUSHER_PORT"),
            (cfg.bridge_port, "voice bridge", "BRIDGE_PORT"),
            (self._ghl_port() or 0, "HighLevel API stand-in", "GHL_API_URL"),
        ]
        if not cfg.stripe_secret_key:
            checks.append((cfg.stripe_port, "local Stripe", "STRIPE_DEV_PORT"))
        if not cfg.storage_s3_endpoint:
            checks.append((cfg.storage_port, "local S3 (moto)", "STORAGE_DEV_PORT"))
        if not cfg.database_url:
            checks.append((cfg.db_port, "Postgres", "SOCKLESS_DB_PORT"))
        for port, what, var in checks:
            if port:
                ensure_free(port, what=what, env_var=var)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self) -> None:
        cfg = self.config
        self.pg = postgres.start(
            data_dir=cfg.data_dir / "postgres",
            port=self._port(cfg.db_port),
            log_path=self.logs / "postgres.log",
            ephemeral=cfg.ephemeral,
            database_url=cfg.database_url,
        )
        self.applied_migrations = migrate.prepare(
            self.pg.dsn,
            migrations=cfg.migrations_dir,
            seed=migrate.SEED if cfg.seed else None,
            fixtures=cfg.fixtures,
        )
        self.postgrest = Postgrest(
            db_uri=self.pg.dsn_for(user="authenticator", password=postgres.PASSWORD),
            jwt_secret=cfg.jwt_secret,
            port=self._port(cfg.postgrest_port),
            admin_port=free_port(),
            log_path=self.logs / "postgrest.log",
        )
        self.postgrest.start()

        self.gateway = Gateway(
            postgrest_url=self.postgrest.url,
            jwt_secret=cfg.jwt_secret,
            realtime=SupabaseRealtime(jwt_secret=cfg.jwt_secret, dsn=self.pg.dsn),
        )
        sock = bind_socket(
            cfg.gateway_port, what="Supabase gateway", env_var="SOCKLESS_GATEWAY_PORT"
        )
        self.servers["gateway"] = BackgroundServer(
            self.gateway.app(), sock, name="gateway", lifespan="on"
        ).start()

        if not cfg.storage_s3_endpoint:  # before the bridge, which uploads recordings there
            self.s3 = LocalS3(port=cfg.storage_port).start()

        # The api socket is bound first so the realtime server can post its webhooks to it.
        api_sock = None
        if cfg.api:
            api_sock = bind_socket(cfg.api_port, what="api functions", env_var="SOCKLESS_API_PORT")
            host, port = api_sock.getsockname()[:2]
        else:  # `vercel dev --listen` takes this port later; nothing of ours holds it
            host, port = "127.0.0.1", cfg.api_port or free_port()
        api_url = self.api_base_url = f"http://{host}:{port}"
        realtime = RealtimeConfig(
            app_id=cfg.pusher_app_id,
            key=cfg.pusher_key,
            secret=cfg.pusher_secret,
            webhook_url=cfg.pusher_webhook_url or f"{api_url}/api/webhooks/pusher",
        )
        self._realtime_config = realtime
        try:
            self.start_realtime(cfg.realtime_port)
        except BaseException:
            if api_sock is not None:
                api_sock.close()
            raise
        self.gateway.on_broadcast = PusherForwarder(
            http_url=self.realtime.http_url,
            app_id=cfg.pusher_app_id,
            key=cfg.pusher_key,
            secret=cfg.pusher_secret,
        )

        try:
            self.voice = self._voice.enter_context(
                serve_voice_in_thread(
                    {**os.environ, **self.env()},
                    bridge_port=cfg.bridge_port,
                    openai_port=cfg.openai_port,
                )
            )
        except BaseException:
            if api_sock is not None:
                api_sock.close()
            raise

        ghl_port = self._ghl_port()
        if ghl_port is not None:
            self._start_ghl(ghl_port, f"{api_url}/api/webhooks/ghl")
        if not cfg.stripe_secret_key:
            self._start_stripe(api_url)

        self.brokers = FakeBrokers()
        sock = bind_socket(0, what="broker stand-ins", env_var="ALPACA_API_URL")
        self.servers["brokers"] = BackgroundServer(self.brokers.app(), sock, name="brokers").start()

        # The functions build their Services from this environment at their first request.
        os.environ.update(self.env())
        if api_sock is None:
            return
        # Tests share this process with the functions: a reload would swap lib/ under them.
        self.vercel = VercelDev(
            cfg.project_root,
            cron_secret=cfg.cron_secret,
            base_url=api_url,
            reload=not cfg.ephemeral,
            crons=not cfg.ephemeral,
            # local tokens for the demo app: development only (production: Clerk / Supabase Auth)
            dev_app=demo_app(self.env, self.pg.dsn)
            if self.pg is not None and cfg.environment == "development"
            else None,
        )
        self.servers["api"] = BackgroundServer(
            self.vercel, api_sock, name="api", lifespan="on"
        ).start()

    def _ghl_port(self) -> int | None:
        """The HighLevel stand-in's port, or None when GHL_API_URL is not on this machine."""
        url = urlsplit(self.config.ghl_api_url)
        if url.hostname not in ("127.0.0.1", "localhost", "::1"):
            return None
        if self.config.ghl_api_port is not None:
            return self.config.ghl_api_port
        return url.port or 80

    def _start_ghl(self, port: int, webhook_url: str) -> None:
        secrets_ = {**self.config.webhook_secrets, **self.config.crm_secrets}
        self.ghl = FakeHighLevel(
            client_id=secrets_["GHL_CLIENT_ID"],
            client_secret=secrets_["GHL_CLIENT_SECRET"],
            webhook_url=webhook_url,
            key=signing_key(secrets_["GHL_DEV_SIGNING_KEY"]),
        )
        sock = bind_socket(port, what="HighLevel API stand-in", env_var="GHL_API_URL")
        self.servers["ghl-api"] = BackgroundServer(self.ghl.app(), sock, name="ghl-api").start()

    def _start_stripe(self, api_url: str) -> None:
        """The local Stripe: the SDK's calls land here (STRIPE_API_BASE); it signs its events
        with STRIPE_WEBHOOK_SECRET and sends them to the api's /api/webhooks/stripe."""
        sock = bind_socket(self.config.stripe_port, what="local Stripe", env_var="STRIPE_DEV_PORT")
        host, port = sock.getsockname()[:2]
        self.stripe = LocalStripe(
            secret_key=local_secret_key(),
            webhook_secret=self.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"],
            webhook_url=f"{api_url}/api/webhooks/stripe",
            public_url=f"http://{host}:{port}",
        )
        self.servers["stripe"] = BackgroundServer(
            self.stripe.app(), sock, name="stripe", lifespan="on"
        ).start()

    def start_realtime(self, port: int | None = None) -> None:
        """(Re)start the Pusher-protocol server, on its old port unless told otherwise."""
        assert self._realtime_config is not None
        port = self.realtime.port if port is None and self.realtime else port or 0
        self.realtime = self._realtime.enter_context(
            serve_in_thread(self._realtime_config, host="127.0.0.1", port=port)
        )

    def stop_realtime(self) -> None:
        """Stop the Pusher-protocol server (an outage test); `self.realtime` keeps its
        address for start_realtime()."""
        self._realtime.close()

    def stop(self) -> None:
        self._voice.close()  # calls still open are saved while the database is up
        self.voice = None
        for name in reversed(list(self.servers)):
            self.servers.pop(name).stop()
        self._realtime.close()
        self._contexts.close()
        self.realtime = None
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        if self.postgrest is not None:
            self.postgrest.stop()
        if self.pg is not None:
            self.pg.stop()
            self.pg = None

    def pids(self) -> dict[str, int]:
        found = {"stack": os.getpid()}
        if self.pg and self.pg.process:
            found["postgres"] = self.pg.process.pid
        if self.postgrest and self.postgrest.process:
            found["postgrest"] = self.postgrest.process.pid
        return found

    def describe(self) -> dict[str, object]:
        assert self.pg is not None
        return {
            "api": self.api_url,
            "api_served": "api" in self.servers,
            "health": f"{self.api_url}/api/health",
            "supabase_url": self.supabase_url,
            "rest": f"{self.supabase_url}/rest/v1",
            "postgres": self.pg.dsn,
            "postgres_kind": self.pg.kind,
            "realtime": self.realtime.ws_url if self.realtime else None,
            "supabase_realtime": self.supabase_url.replace("http", "ws", 1) + WEBSOCKET_PATH,
            "realtime_http": self.realtime.http_url if self.realtime else None,
            "pusher_app_id": self.config.pusher_app_id,
            "pusher_key": self.config.pusher_key,
            "voice_bridge": self.voice.bridge_url if self.voice else None,
            "openai_realtime": self.voice.openai_url if self.voice else None,
            "openai_fake": self.voice.fake if self.voice else None,
            "ghl_api": self.ghl_api_url,
            "ghl_api_fake": self.ghl is not None,
            "stripe": self.stripe.public_url if self.stripe else None,
            "s3": self.s3.url if self.s3 else None,
            "brokers": self.servers["brokers"].url if "brokers" in self.servers else None,
            "anon_key": self.config.anon_key,
            "service_role_key": self.config.service_role_key,
            "logs": str(self.logs),
            "pids": self.pids(),
        }


def _print_table(info: dict[str, object], started_s: float) -> None:
    rows = [
        (
            "api functions",
            f"{info['api']}"
            + ("" if info["api_served"] else "  (not served: run `vercel dev --local`, README)"),
        ),
        ("health", info["health"]),
        ("demo app", f"{info['api']}/  (public/; sign in as alice, bob or carol)"),
        ("Supabase URL", info["supabase_url"]),
        ("  REST", info["rest"]),
        ("  Realtime", f"{info['supabase_realtime']}  (supabase-js: createClient(URL, anon key))"),
        ("Postgres", f"{info['postgres']}  ({info['postgres_kind']})"),
        ("Pusher server", f"{info['realtime']}  (HTTP API {info['realtime_http']})"),
        ("  app id / key", f"{info['pusher_app_id']} / {info['pusher_key']}"),
        ("voice bridge", f"{info['voice_bridge']}/media  (health: /health)"),
        (
            "OpenAI Realtime",
            f"{info['openai_realtime']}{'  (fake)' if info['openai_fake'] else ''}",
        ),
        (
            "HighLevel API",
            f"{info['ghl_api']}{'  (stand-in: dev/ghl_api.py)' if info['ghl_api_fake'] else ''}",
        ),
        (
            "Stripe (local)",
            f"{info['stripe']}  (hosted Checkout + portal pages; docs/billing.md)"
            if info["stripe"]
            else "not started: STRIPE_SECRET_KEY is set, the api talks to Stripe",
        ),
        (
            "S3 (recordings)",
            f"{info['s3']}  (moto; bucket call-recordings)"
            if info["s3"]
            else "not started: STORAGE_S3_ENDPOINT is set",
        ),
        (
            "broker stand-ins",
            f"{info['brokers']}/alpaca, /tradovate  (dev/brokers.py)" if info["brokers"] else "-",
        ),
        ("anon key", info["anon_key"]),
        ("service_role key", info["service_role_key"]),
        ("logs", info["logs"]),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nSockless local stack is up in {started_s:.1f}s\n")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("\n  user token:     .venv/bin/python -m dev.token --sub alice")
    print("  simulated call: .venv/bin/python -m dev.call")
    print("  HighLevel demo: .venv/bin/python -m dev.ghl")
    print("  a broker fill:  .venv/bin/python -m dev.trade")
    print("  Ctrl-C stops everything.\n", flush=True)


def _configure_logging(logs: Path, level: str) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(logs / "api.log")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("sockless", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    stack_log = logging.getLogger("sockless.stack")
    stack_log.addHandler(console)
    for name in ("sockless.vercel", "sockless.stack"):
        logging.getLogger(name).setLevel(level.upper())
        logging.getLogger(name).addHandler(console)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.stack", description=__doc__)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="written if missing")
    parser.add_argument(
        "--no-api",
        action="store_true",
        help="do not serve api/ (run `vercel dev --local` on SOCKLESS_API_PORT instead); "
        "same as SOCKLESS_API=off",
    )
    args = parser.parse_args(argv)

    write_local_env(target=args.env_file)
    load_into_environ(args.env_file)
    config = StackConfig.from_env()
    if args.no_api:
        config.api = False
    _configure_logging(config.data_dir / "logs", args.log_level)

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    started = time.monotonic()
    stack = Stack(config)
    state_file = config.data_dir / "stack.json"
    try:
        stack.start()
    except (PortBusy, postgres.PostgresError, migrate.MigrationError, RuntimeError) as exc:
        print(f"\nmake dev: {exc}\n", file=sys.stderr)
        return 1
    try:
        info = stack.describe()
        state_file.write_text(json.dumps(info, indent=2))
        _print_table(info, time.monotonic() - started)
        while not stopping.wait(0.5):
            pass
        print("stopping...", flush=True)
    finally:
        stack.stop()
        state_file.unlink(missing_ok=True)
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
