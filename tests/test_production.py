"""Production is the default and refuses to start half-configured (lib.production): every
api function answers a refused environment with one JSON 500 naming the variables, never a
stack trace."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dev.env import ROOT
from lib.config import load_settings
from lib.errors import ConfigurationError
from lib.features import BUNDLE

PRODUCTION = {
    "SUPABASE_URL": "https://abcd.supabase.co",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role",
    "SUPABASE_JWT_SECRET": "j" * 40,
    "REALTIME_PROVIDER": "pusher",
    "PUSHER_APP_ID": "1",
    "PUSHER_KEY": "key",
    "PUSHER_SECRET": "secret",
    "CRON_SECRET": "cron-secret",
    "NOTIFY_SMS_PROVIDER": "twilio",
    "NOTIFY_EMAIL_PROVIDER": "sendgrid",
    "BRIDGE_URL": "wss://bridge.fly.dev/abcdefghijklmnopqrstuvwxyz",
    "PUBLIC_BASE_URL": "https://app.vercel.app",
}


def refused(env: dict[str, str]) -> list[str]:
    """The variables a production start with `env` is refused for ([] = it starts)."""
    try:
        BUNDLE.services(env)
    except ConfigurationError as exc:
        return [problem["variable"] for problem in exc.details["problems"]]
    return []


def test_the_environment_defaults_to_production():
    assert load_settings({}).environment == "production"
    assert load_settings({}).debug is False
    assert load_settings({"VERCEL_ENV": "development"}).debug is True
    assert load_settings({"VERCEL_ENV": "development", "SOCKLESS_ENV": "production"}).debug is False


def test_a_complete_production_environment_starts():
    assert refused(PRODUCTION) == []


def test_production_may_turn_notifications_off():
    assert (
        refused({**PRODUCTION, "NOTIFY_SMS_PROVIDER": "off", "NOTIFY_EMAIL_PROVIDER": "off"}) == []
    )


@pytest.mark.parametrize(
    ("changes", "variables"),
    [
        ({"REALTIME_PROVIDER": "memory"}, ["REALTIME_PROVIDER"]),
        ({"NOTIFY_SMS_PROVIDER": "log"}, ["NOTIFY_SMS_PROVIDER"]),
        ({"NOTIFY_EMAIL_PROVIDER": "log"}, ["NOTIFY_EMAIL_PROVIDER"]),
        ({"CRON_SECRET": "  "}, ["CRON_SECRET"]),
        ({"CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json"},
         ["CLERK_ISSUER", "CLERK_AUTHORIZED_PARTIES"]),
        ({"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----", "CLERK_ISSUER": "https://clerk.example.com"},
         ["CLERK_AUTHORIZED_PARTIES"]),
        ({"SUPABASE_URL": ""}, ["SUPABASE_URL"]),
        ({"SUPABASE_SERVICE_ROLE_KEY": ""}, ["SUPABASE_SERVICE_ROLE_KEY"]),
        ({"PUSHER_SECRET": ""}, ["PUSHER_SECRET"]),
        ({"SUPABASE_URL": "http://localhost:54321"}, ["SUPABASE_URL"]),
        ({"PUSHER_HOST": "127.0.0.1"}, ["PUSHER_HOST"]),
        ({"PUSHER_HOST": "0.0.0.0:6001"}, ["PUSHER_HOST"]),
        ({"BRIDGE_URL": "ws://[::1]:8080/secret"}, ["BRIDGE_URL"]),
        ({"PUBLIC_BASE_URL": "http://127.0.0.2:3000"}, ["PUBLIC_BASE_URL"]),
        ({"TWILIO_API_URL": "http://127.0.0.1:9999"}, ["TWILIO_API_URL"]),
        ({"SENDGRID_API_URL": "http://api.localhost"}, ["SENDGRID_API_URL"]),
        ({"SUPABASE_JWKS_URL": "http://127.0.0.1/jwks"}, ["SUPABASE_JWKS_URL"]),
        ({"GHL_API_URL": "http://127.0.0.1:54340"}, ["GHL_API_URL"]),
        ({"ALPACA_API_URL": "http://localhost:9000/alpaca"}, ["ALPACA_API_URL"]),
        ({"STRIPE_API_BASE": "http://127.0.0.1:12111"}, ["STRIPE_API_BASE"]),
    ],
)  # fmt: skip
def test_production_refuses_naming_the_variable(changes: dict[str, str], variables: list[str]):
    assert refused({**PRODUCTION, **changes}) == variables
    # the same environment is fine for development and preview deployments
    assert refused({**PRODUCTION, **changes, "SOCKLESS_ENV": "development"}) == []
    assert refused({**PRODUCTION, **changes, "VERCEL_ENV": "preview"}) == []


def test_an_unset_supabase_url_is_its_local_default_and_refused():
    env = {k: v for k, v in PRODUCTION.items() if k != "SUPABASE_URL"}
    assert refused(env) == ["SUPABASE_URL"]
    assert refused({**PRODUCTION, "REALTIME_PROVIDER": "supabase", "PUSHER_SECRET": ""}) == []


def test_clerk_with_issuer_and_parties_and_remote_urls_start():
    clerk = {
        "CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json",
        "CLERK_ISSUER": "https://clerk.example.com",
        "CLERK_AUTHORIZED_PARTIES": "https://app.example.com",
        "PUSHER_HOST": "ws.example.com",
    }
    assert refused({**PRODUCTION, **clerk}) == []


def test_one_error_lists_every_problem_with_its_rule():
    with pytest.raises(ConfigurationError) as caught:
        BUNDLE.services({**PRODUCTION, "CRON_SECRET": "", "REALTIME_PROVIDER": "memory"})
    message = caught.value.message
    assert message.startswith("production configuration refused: ")
    assert "REALTIME_PROVIDER: must be pusher or supabase" in message
    assert "CRON_SECRET: must be set" in message
    assert caught.value.status == 500


CALL_EVERY_FUNCTION = """
import asyncio, importlib.util, json, sys
from pathlib import Path
import httpx
from lib.vercel_project import discover_functions

async def main():
    answers = {}
    for fn in discover_functions(Path.cwd()):
        spec = importlib.util.spec_from_file_location(f"fn_{len(answers)}", fn.path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        transport = httpx.ASGITransport(app=module.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://fn") as client:
            path = "/" + str(fn.path.relative_to(Path.cwd()).with_suffix(""))
            response = await client.request(sys.argv[1], path)
            answers[path] = [response.status_code, response.text]
    print(json.dumps(answers))

asyncio.run(main())
"""


@pytest.mark.parametrize("environment", ["production", "development"])
def test_every_function_answers_a_refused_environment_as_a_json_500(environment: str):
    """Each api/*.py, imported in a fresh process with a broken environment, answers its
    first request (GET and POST) with the ConfigurationError: no trace, even in development."""
    env = {"PATH": "/usr/bin:/bin", "SOCKLESS_ENV": environment}
    if environment == "production":
        env |= {**PRODUCTION, "REALTIME_PROVIDER": "memory"}
        expected = "REALTIME_PROVIDER: must be pusher or supabase"
    else:  # a value no environment accepts
        env |= {"REALTIME_PROVIDER": "carrier-pigeon"}
        expected = "REALTIME_PROVIDER='carrier-pigeon': expected one of"
    for method in ("GET", "POST"):
        done = subprocess.run(
            [sys.executable, "-c", CALL_EVERY_FUNCTION, method],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        answers = json.loads(done.stdout.splitlines()[-1])
        assert len(answers) >= 10
        for path, (status, text) in answers.items():
            assert status == 500, (method, path, status, text)
            assert expected in text, (method, path, text)
            assert "Traceback" not in text and '"stack"' not in text, (method, path)


def test_a_local_recordings_endpoint_is_refused_in_production():
    with pytest.raises(ConfigurationError) as caught:
        BUNDLE.services({**PRODUCTION, "STORAGE_S3_ENDPOINT": "http://127.0.0.1:54350"})
    assert "STORAGE_S3_ENDPOINT: must not be a local address" in caught.value.message
