"""The price list (prices.json beside this module), read once, as plain data.

Every figure carries its `source` and the date it was `read` in the file itself; the
projection (projection.py) reads nothing else, so a changed price changes every projection,
test and chart at once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.json")

Prices = dict[str, Any]


@cache
def load(path: Path = PRICES) -> Prices:
    prices: Prices = json.loads(path.read_text())
    for name, section in prices.items():
        if isinstance(section, dict) and not {"source", "read"} <= section.keys():
            raise ValueError(f"prices.json: {name} must name its source and the date it was read")
    return prices
