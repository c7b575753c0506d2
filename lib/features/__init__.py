"""The enabled features: the one list every api/ function is built from.

    FEATURES   core first, then each feature's declaration (lib/features/<name>/__init__.py)
    BUNDLE     their union, checked for clashes (lib.feature.Bundle)
    services() the Services of this process's environment, for BUNDLE

To add a feature: its folder with `FEATURE = Feature(...)`, one line below, its migrations,
and its crons in vercel.json (README: "Add a feature").
"""

from __future__ import annotations

from collections.abc import Mapping

from lib.core import CORE
from lib.feature import Bundle
from lib.features import billing, calls, crm, messaging, poker, trading, usage
from lib.services import Services

FEATURES = (
    CORE,
    poker.FEATURE,
    messaging.FEATURE,
    calls.FEATURE,
    crm.FEATURE,
    billing.FEATURE,
    trading.FEATURE,
    usage.FEATURE,
)

BUNDLE = Bundle(*FEATURES)


def services(env: Mapping[str, str] | None = None) -> Services:
    """Services for BUNDLE from `env` (default: the process environment)."""
    return BUNDLE.services(env)
