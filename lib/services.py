"""`Services`: everything a handler, procedure, job or webhook processor depends on, in one
value built once per app (at its first request, i.e. the cold start) and handed down.

    services.settings        the typed core settings (lib.config)
    services.feature(Model)  a feature's own settings model, read from the same environment
    services.db              the Database on the running event loop
    services.publisher       the Publisher REALTIME_PROVIDER names, on the running loop
    services.http            the shared httpx client of the running loop
    services.channels        who may subscribe to what (the enabled features' channel families)
    services.now()           the clock

Pooled clients belong to the event loop that opened them (a warm Vercel instance has one; a
test process or the Lambda target may run several apps and loops), so `db`, `publisher` and
`http` resolve per loop unless the builder handed in fixed ones. Tests build a Services with
their own parts — `Services(settings, db=..., publisher=MemoryPublisher())` — and pass it to
the app; nothing reads the process environment behind their back.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, Self

from lib.config import Settings, load_settings
from lib.errors import ConfigurationError

if TYPE_CHECKING:
    import httpx

    from lib.db import Database
    from lib.production import Rule
    from lib.realtime.channels import ChannelRules
    from lib.realtime.port import Publisher


class FeatureSettings(Protocol):
    """A feature's settings model: built from the environment, raising ValueError that names
    the bad variable."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        channels: ChannelRules | None = None,
        db: Database | None = None,
        publisher: Publisher | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.env: Mapping[str, str] = dict(env or {})
        self._channels = channels
        self._db = db
        self._publisher = publisher
        self._http = http
        self.now = clock
        self._features: dict[type[Any], Any] = {}
        self._publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Publisher] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        channels: ChannelRules | None = None,
        production_rules: Sequence[Rule] = (),
    ) -> Services:
        """Services for an environment (default: this process's), read once. Raises
        ConfigurationError naming a bad variable, or every production rule it breaks
        (lib.production); every function answers that as a JSON 500, without a trace."""
        from lib import production

        env = dict(os.environ if env is None else env)
        try:
            settings = load_settings(env)
        except ValueError as exc:
            raise ConfigurationError(f"configuration refused: {exc}") from exc
        production.check(settings, env, production_rules)
        return cls(settings, env=env, channels=channels)

    def feature[T: FeatureSettings](self, model: type[T]) -> T:
        """A feature's settings, read from this environment on first use and kept."""
        found = self._features.get(model)
        if found is None:
            found = self._features[model] = model.from_env(self.env)
        return found

    @property
    def channels(self) -> ChannelRules:
        if self._channels is None:
            from lib.realtime.channels import ChannelRules

            self._channels = ChannelRules(())
        return self._channels

    @property
    def db(self) -> Database:
        if self._db is not None:
            return self._db
        from lib.db import database

        return database(self.settings)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        from lib.realtime import http_client

        return http_client()

    @property
    def publisher(self) -> Publisher:
        if self._publisher is not None:
            return self._publisher
        loop = asyncio.get_running_loop()
        found = self._publishers.get(loop)
        if found is None:
            from lib.realtime import publisher

            found = self._publishers[loop] = publisher(self.settings, http=self.http)
        return found

    def replace(self, **changes: Any) -> Services:
        """A copy with some parts swapped (tests: another db, a memory publisher)."""
        settings = changes.pop("settings", self.settings)
        parts: dict[str, Any] = {
            "env": self.env,
            "channels": self._channels,
            "db": self._db,
            "publisher": self._publisher,
            "http": self._http,
            "clock": self.now,
        }
        parts.update(changes)
        return Services(settings, **parts)


ServicesSource = Callable[[], Services]
"""What an app is given: called at its first request, the result kept for the app's life."""


def once(build: ServicesSource | Services) -> ServicesSource:
    """`build` called once (the cold start), its Services reused by every later request."""
    if isinstance(build, Services):
        fixed = build
        return lambda: fixed
    built: list[Services] = []

    def get() -> Services:
        if not built:
            built.append(build())
        return built[0]

    return get
