"""`make dev` writes a working .env; `python -m dev.token` mints tokens PostgREST accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt

from dev.env import ROOT, parse, write_local_env


def test_env_is_completed_from_the_example_with_consistent_keys(tmp_path: Path):
    target = tmp_path / ".env"
    values = write_local_env(target=target)
    written = parse(target.read_text())
    example = parse((ROOT / ".env.example").read_text())
    assert set(example) <= set(written)
    secret = written["SUPABASE_JWT_SECRET"]
    assert len(secret) >= 32
    for key, role in (("SUPABASE_ANON_KEY", "anon"), ("SUPABASE_SERVICE_ROLE_KEY", "service_role")):
        assert jwt.decode(written[key], secret, algorithms=["HS256"])["role"] == role
    assert written["PUSHER_APP_ID"].isdigit()
    assert written["CRON_SECRET"] and written["PUSHER_SECRET"]
    assert values["CRON_SECRET"] == written["CRON_SECRET"]
    assert target.stat().st_mode & 0o077 == 0  # secrets: owner only


def test_existing_values_survive_a_rewrite(tmp_path: Path):
    target = tmp_path / ".env"
    write_local_env(target=target)
    before = parse(target.read_text())
    target.write_text(target.read_text() + "\nMY_OWN_SETTING=kept\n")
    write_local_env(target=target)
    after = parse(target.read_text())
    assert after["SUPABASE_JWT_SECRET"] == before["SUPABASE_JWT_SECRET"]
    assert after["SUPABASE_SERVICE_ROLE_KEY"] == before["SUPABASE_SERVICE_ROLE_KEY"]
    assert after["MY_OWN_SETTING"] == "kept"


def test_token_cli_mints_a_user_jwt():
    secret = "s" * 40
    result = subprocess.run(
        [sys.executable, "-m", "dev.token", "--sub", "alice", "--ttl", "120"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"SUPABASE_JWT_SECRET": secret, "PATH": "/usr/bin:/bin"},
        check=True,
    )
    claims = jwt.decode(
        result.stdout.strip(), secret, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["sub"] == "alice"
    assert claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 120
