"""A feature declares what it brings, as one value; an app is built from a list of them.

    FEATURE = Feature(
        name="poker",
        procedures=PROCEDURES,                  # tRPC procedures (lib.rpc)
        jobs=(CronJob(...),),                   # cron jobs (lib.cron); vercel.json schedules them
        cleanups=(Cleanup(...),),               # steps of the `cleanup` job
        channels=(ChannelRule(...),),           # channel families (lib.realtime.channels)
        events=(EventFamily(...),),             # the events it publishes, per family (types)
        webhooks=(WebhookEndpoint(...),),       # webhook endpoints (lib.webhooks)
        routes=(Route(...),),                   # its other functions, for /api/openapi.json
        settings=PokerSettings,                 # its settings model (services.feature(...))
        schema=("poker_vote", "poker_rounds"),  # public SQL functions/tables it calls
    )

`Bundle(core, *features)` is the union, checked once: no two features may claim the same
procedure path, job, cleanup, channel prefix or webhook route. api/ builds every function from
the bundle in lib/features/__init__.py; core modules never import a feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lib.cron import Cleanup, CronJob, cleanup_job
from lib.errors import ConfigurationError
from lib.events import EventFamily
from lib.openapi import Route
from lib.production import Rule, local_urls
from lib.realtime.channels import ChannelRule, ChannelRules
from lib.rpc.procedure import Procedure
from lib.rpc.router import Router
from lib.services import FeatureSettings, Services
from lib.webhooks.endpoint import WebhookEndpoint


@dataclass(frozen=True, kw_only=True)
class Feature:
    name: str
    procedures: Sequence[Procedure] = ()
    jobs: Sequence[CronJob] = ()
    cleanups: Sequence[Cleanup] = ()
    channels: Sequence[ChannelRule] = ()
    events: Sequence[EventFamily] = ()
    """The events it publishes, per channel family (lib.events.EventFamily): `make types`
    turns them into the client's typed handlers."""
    webhooks: Sequence[WebhookEndpoint] = ()
    routes: Sequence[Route] = ()
    """Its other functions' operations (not tRPC, not webhook ingest), for /api/openapi.json."""
    settings: type[FeatureSettings] | None = None
    schema: Sequence[str] = ()
    production_urls: Sequence[str] = ()
    """Environment variables (URLs of the feature's providers) that production refuses when
    they point at this machine."""
    production_rules: Sequence[Rule] = ()
    """More production rules of the feature's own (lib.production.Rule)."""
    migration: str = ""
    """The newest migration (its version, `YYYYMMDDHHMMSS`) this feature's code needs: a
    deployment whose database lacks it is unhealthy (/api/health)."""
    """The public SQL functions and tables its code calls by name (rpc, command, table, webhook
    processors): /api/health answers 503 naming any that is missing."""
    description: str = ""


class Bundle:
    """The enabled features of one deployment, merged and checked."""

    def __init__(self, *features: Feature) -> None:
        self.features = tuple(features)
        _unique("feature", ((f.name, f.name) for f in features))
        _unique("procedure path", ((p.path, f.name) for f in features for p in f.procedures))
        _unique("cron job", ((j.name, f.name) for f in features for j in f.jobs))
        _unique("cleanup", ((c.name, f.name) for f in features for c in f.cleanups))
        _unique("channel prefix", ((r.prefix, f.name) for f in features for r in f.channels))
        _unique("webhook route", ((w.route, f.name) for f in features for w in f.webhooks))
        _unique(
            "route",
            ((f"{r.method} {r.path}", f.name) for f in features for r in f.routes),
        )

    @cached_property
    def router(self) -> Router:
        return Router(p for f in self.features for p in f.procedures)

    @cached_property
    def cleanups(self) -> tuple[Cleanup, ...]:
        return tuple(c for f in self.features for c in f.cleanups)

    @cached_property
    def jobs(self) -> Mapping[str, CronJob]:
        """Every declared job, plus `cleanup` composed from every declared cleanup."""
        jobs = {j.name: j for f in self.features for j in f.jobs}
        if self.cleanups:
            if "cleanup" in jobs:
                raise ValueError("'cleanup' is composed from the declared cleanups")
            jobs["cleanup"] = cleanup_job(self.cleanups)
        return jobs

    @cached_property
    def production_rules(self) -> tuple[Rule, ...]:
        """The features' own production rules, their URLs included (lib.production)."""
        urls = [u for f in self.features for u in f.production_urls]
        rules = [r for f in self.features for r in f.production_rules]
        return (*rules, local_urls(*urls)) if urls else tuple(rules)

    @cached_property
    def migration(self) -> str:
        """The newest migration any enabled feature needs."""
        return max((f.migration for f in self.features), default="")

    @cached_property
    def schema(self) -> tuple[str, ...]:
        """Every public SQL object the enabled features call, sorted, once each."""
        return tuple(sorted({name for f in self.features for name in f.schema}))

    @cached_property
    def events(self) -> dict[str, dict[str, tuple[type[Any], ...]]]:
        """Channel pattern -> event name -> the data models the features declare for it
        (one per feature that publishes that event there), in feature order."""
        merged: dict[str, dict[str, tuple[type[Any], ...]]] = {}
        patterns: dict[str, str] = {}
        for feature in self.features:
            for family in feature.events:
                pattern = patterns.setdefault(family.prefix, family.channel)
                names = merged.setdefault(pattern, {})
                for name, model in family.events.items():
                    names[name] = (*names.get(name, ()), model)
        return merged

    @cached_property
    def channels(self) -> ChannelRules:
        return ChannelRules(r for f in self.features for r in f.channels)

    @cached_property
    def webhooks(self) -> Mapping[str, WebhookEndpoint]:
        return {w.route: w for f in self.features for w in f.webhooks}

    def webhook(self, route: str) -> WebhookEndpoint:
        try:
            return self.webhooks[route]
        except KeyError:
            raise LookupError(f"no feature declares the webhook {route}") from None

    def services(self, env: Mapping[str, str] | None = None) -> Services:
        """Services for this bundle from an environment (default: the process's). Every
        feature's settings are read now, so a bad variable fails the cold start by name
        (ConfigurationError), as a broken production rule does (lib.production)."""
        services = Services.from_env(
            env, channels=self.channels, production_rules=self.production_rules
        )
        for feature in self.features:
            if feature.settings is not None:
                try:
                    services.feature(feature.settings)
                except ValueError as exc:
                    raise ConfigurationError(f"configuration refused: {exc}") from exc
        return services


def _unique(what: str, claims: Iterable[tuple[str, Any]]) -> None:
    owners: dict[str, list[str]] = {}
    for key, owner in claims:
        owners.setdefault(key, []).append(str(owner))
    twice = {key: names for key, names in owners.items() if len(names) > 1}
    if twice:
        listed = "; ".join(f"{key!r} by {', '.join(names)}" for key, names in twice.items())
        raise ValueError(f"{what} claimed more than once: {listed}")
