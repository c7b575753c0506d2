"""vercel.json "crons" as EventBridge schedules, and their events as the request Vercel sends.

Vercel calls a cron path with GET and `Authorization: Bearer $CRON_SECRET`. On AWS an
EventBridge schedule (template.yaml) invokes the Lambda with a constant input,
`{"sockless-cron": {"path": ..., "schedule": ...}}`; `cron_request` turns that into the same
GET, its secret read from the Lambda's own CRON_SECRET, so api/cron.py checks it exactly as on
Vercel (a missing or wrong secret is a 401 there, too). The secret never sits in the template.

Vercel's 5-field cron (UTC) -> EventBridge's 6-field `cron(min hour dom month dow year)`:
EventBridge wants `?` in one of day-of-month / day-of-week, counts `*/n` as `0/n`, and numbers
weekdays 1-7 from Sunday (names are used here: SUN..SAT).
"""

from __future__ import annotations

import re
from typing import Any

KEY = "sockless-cron"
USER_AGENT = "vercel-cron/1.0"
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _steps(field: str) -> str:
    return re.sub(r"^\*/", "0/", field)


def _weekday(field: str) -> str:
    """`0-6` / `1,3` / `7` (Sunday again) -> EventBridge day names."""

    def name(match: re.Match[str]) -> str:
        return DAYS[int(match[0]) % 7]

    return re.sub(r"\d+", name, field)


def eventbridge_cron(schedule: str) -> str:
    """`17 3 * * *` -> `cron(17 3 * * ? *)`; ValueError for what EventBridge cannot express."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"cron {schedule!r}: expected 5 fields")
    minute, hour, dom, month, dow = fields
    if dom != "*" and dow != "*":
        raise ValueError(f"cron {schedule!r}: EventBridge cannot restrict both day fields")
    if dow == "*":
        dow = "?"
    else:
        dom, dow = "?", _weekday(dow)
    return f"cron({_steps(minute)} {_steps(hour)} {dom} {month} {dow} *)"


def schedule_input(path: str, schedule: str) -> dict[str, Any]:
    """The constant input a schedule sends the Lambda."""
    return {KEY: {"path": path, "schedule": schedule}}


def is_schedule(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get(KEY), dict)


def cron_request(event: dict[str, Any], *, secret: str) -> dict[str, Any]:
    """The API Gateway v2 event of the GET Vercel would send for this schedule."""
    job = event[KEY]
    path = str(job.get("path", ""))
    if not path.startswith("/api/cron/"):
        raise ValueError(f"schedule event for {path!r}: not a cron path")
    headers = {"user-agent": USER_AGENT, "x-vercel-cron-schedule": str(job.get("schedule", ""))}
    if secret:
        headers["authorization"] = f"Bearer {secret}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": ""},
            "requestId": "",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
