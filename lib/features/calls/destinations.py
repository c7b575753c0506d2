"""Which numbers calls.start may dial (toll fraud: premium-rate and international ranges bill
the account, not the caller). Pure: no I/O.

    refusal(number, policy) -> None (dial it) or the reason it is refused

In order: the number is E.164 (`+` and 7 to 15 digits, no leading 0); its country calling
code is one of CALLS_ALLOWED_COUNTRY_CODES; a NANP (+1) number is a whole one (ten digits,
a real area code: no short codes, no N11 service codes); it starts with none of
CALLS_BLOCKED_PREFIXES (by default NANP premium 900/976 and the +1 Caribbean and Atlantic
countries that bill international rates, the usual "one ring" scam ranges).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
NANP = re.compile(r"\+1[2-9][0-9]{9}")
NANP_PREMIUM = ("+1900", "+1976")
NANP_INTERNATIONAL = tuple(
    f"+1{area}"
    for area in (
        *("242", "246", "264", "268", "284", "345", "441", "473", "649", "658", "664"),
        *("721", "758", "767", "784", "809", "829", "849", "868", "869", "876"),
    )
)
"""+1 area codes of other countries (Bahamas ... Jamaica): international rates."""
DEFAULT_BLOCKED_PREFIXES = NANP_PREMIUM + NANP_INTERNATIONAL


@dataclass(frozen=True, kw_only=True)
class DestinationPolicy:
    allowed_country_codes: tuple[str, ...] = ("1",)
    blocked_prefixes: tuple[str, ...] = DEFAULT_BLOCKED_PREFIXES


def refusal(number: str, policy: DestinationPolicy) -> str | None:
    """Why `number` may not be dialled, or None when it may."""
    if not E164.fullmatch(number):
        return f"{number[:20]!r} is not an E.164 number (+ and 7 to 15 digits)"
    digits = number[1:]
    code = next((c for c in policy.allowed_country_codes if digits.startswith(c)), None)
    if code is None:
        allowed = ", ".join(f"+{c}" for c in policy.allowed_country_codes) or "none"
        return f"{number} is outside the allowed country codes ({allowed})"
    if code == "1" and (not NANP.fullmatch(number) or number[3:5] == "11"):
        return f"{number} is not a dialable NANP number (+1, a 3-digit area code, 7 digits)"
    blocked = next((p for p in policy.blocked_prefixes if number.startswith(p)), None)
    if blocked is not None:
        return f"{number} is in a blocked range ({blocked}: premium-rate or international)"
    return None


def country_codes(value: str, name: str) -> tuple[str, ...]:
    """A comma-separated list of country calling codes ("1, 44"); ValueError naming `name`."""
    codes = tuple(dict.fromkeys(c.strip().lstrip("+") for c in value.split(",") if c.strip()))
    for code in codes:
        if not re.fullmatch(r"[1-9][0-9]{0,2}", code):
            raise ValueError(f"{name}: {code!r} is not a country calling code (1 to 3 digits)")
    return codes


def prefixes(value: str, name: str) -> tuple[str, ...]:
    """A comma-separated list of number prefixes ("+1900, +44 9"); ValueError naming `name`."""
    found = tuple(
        dict.fromkeys("+" + p.replace(" ", "").lstrip("+") for p in value.split(",") if p.strip())
    )
    for prefix in found:
        if not re.fullmatch(r"\+[1-9][0-9]{0,14}", prefix):
            raise ValueError(f"{name}: {prefix!r} is not a number prefix (+ and digits)")
    return found
