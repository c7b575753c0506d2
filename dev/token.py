"""Mint a user JWT for local testing: `python -m dev.token --sub alice`.

Signed with SUPABASE_JWT_SECRET (from the environment or .env), shaped like a Supabase Auth
access token, so PostgREST (RLS via auth.jwt() ->> 'sub') and lib.auth both accept it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import jwt

from dev.env import ROOT, read


def user_token(
    secret: str,
    *,
    sub: str,
    role: str = "authenticated",
    ttl_s: int = 3600,
    email: str | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "supabase-local",
        "aud": "authenticated",
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + ttl_s,
        "session_id": str(uuid.uuid4()),
        "email": email or f"{sub}@example.test",
        **(extra or {}),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.token", description=__doc__)
    parser.add_argument("--sub", required=True, help="the user id (the JWT sub)")
    parser.add_argument("--role", default="authenticated")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until expiry")
    parser.add_argument("--email")
    args = parser.parse_args(argv)
    secret = os.environ.get("SUPABASE_JWT_SECRET") or read(ROOT / ".env").get("SUPABASE_JWT_SECRET")
    if not secret:
        print("SUPABASE_JWT_SECRET is not set: run `make dev` once to write .env", file=sys.stderr)
        return 2
    print(user_token(secret, sub=args.sub, role=args.role, ttl_s=args.ttl, email=args.email))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
