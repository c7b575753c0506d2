"""template.yaml: generated from api/, vercel.json and .env.example (aws.template), never stale,
and structurally what SAM deploys: every function route and every cron, with the schedule
EventBridge will keep."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml
from croniter import croniter

from aws import template
from aws.schedule import DAYS, KEY, eventbridge_cron
from lib.vercel_project import Project

ROOT = template.ROOT


def deployed() -> dict:
    return yaml.safe_load(template.TEMPLATE.read_text())


def events(kind: str) -> list[dict]:
    function = deployed()["Resources"][template.FUNCTION]["Properties"]
    return [e["Properties"] for e in function["Events"].values() if e["Type"] == kind]


def test_the_checked_in_template_is_what_the_generator_writes():
    assert template.main(["--check"]) == 0, "template.yaml is stale: python -m aws.template"


def test_every_function_and_rewrite_has_a_route():
    project = Project.load(ROOT)
    paths = {e["Path"] for e in events("HttpApi")}
    for function in project.functions:
        route = "/" + "/".join(function.path.relative_to(ROOT).with_suffix("").parts)
        assert route in paths, f"{function.path} has no HTTP API route"
    vercel = json.loads((ROOT / "vercel.json").read_text())
    assert {"/api/cron/{job}", "/api/trpc/{proxy+}", "/api/webhooks/broker/{connection}"} <= paths
    assert len(paths) == len(project.functions) + len(vercel["rewrites"])
    function = deployed()["Resources"][template.FUNCTION]["Properties"]
    assert function["Handler"] == "aws.handler.handler"
    assert function["FunctionUrlConfig"] == {"AuthType": "NONE"}


def test_every_cron_is_scheduled_with_its_path():
    crons = Project.load(ROOT).config.crons
    scheduled = {json.loads(e["Input"])[KEY]["path"]: e["Schedule"] for e in events("Schedule")}
    assert scheduled == {job.path: eventbridge_cron(job.schedule) for job in crons}


def as_croniter(expression: str) -> str:
    """An EventBridge cron(...) back in 5-field form, to compare the times both fire."""
    minute, hour, dom, month, dow, _year = expression.removeprefix("cron(")[:-1].split()
    for index, day in enumerate(DAYS):
        dow = dow.replace(day, str(index))
    return " ".join(
        f.replace("?", "*").replace("0/", "*/") for f in (minute, hour, dom, month, dow)
    )


@pytest.mark.parametrize(
    "schedule", ["17 3 * * *", "* * * * *", "*/5 * * * *", "7 * * * *", "41 4 * * 0", "0 9 * * 1-5"]
)
def test_eventbridge_fires_when_vercel_would(schedule: str):
    start = datetime(2026, 11, 30, tzinfo=UTC)
    ours, theirs = (
        croniter(schedule, start),
        croniter(as_croniter(eventbridge_cron(schedule)), start),
    )
    assert [ours.get_next(datetime) for _ in range(30)] == [
        theirs.get_next(datetime) for _ in range(30)
    ]


def test_what_eventbridge_cannot_express_is_refused():
    with pytest.raises(ValueError, match="both day fields"):
        eventbridge_cron("0 0 1 * 1")
    with pytest.raises(ValueError, match="5 fields"):
        eventbridge_cron("0 0 * *")
    with pytest.raises(ValueError, match="no route"):
        template.gateway_path("/api/(a|b)/x")
