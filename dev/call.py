"""Place a simulated inbound call on the running local stack: `python -m dev.call`.

What a real call does, with the phone network played by dev.phone:
  1. the number (--to) is registered for --owner with --goal (call_numbers, service role);
  2. the provider's webhook: POST /api/voice/incoming, signed with the configured key over
     PUBLIC_BASE_URL -> TwiML;
  3. the "phone" connects to the TwiML's <Stream> (the bridge), hears the greeting, says each
     --say line (espeak-ng + sox if installed, else a generated babble) and waits for the reply;
  4. it hangs up after the last line (unless the assistant ended the call first), then prints
     the saved call: transcript, outcome, summary.
Needs `make dev` running with the voice bridge. Settings come from the environment / .env.
The default lines are the ones the fake OpenAI "hears" (its transcripts are scripted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from urllib.parse import urlencode

import httpx

from dev.env import ROOT, read
from dev.fake_openai import DEFAULT_SCRIPT
from dev.phone import Phone, stream_of
from dev.speech import speech
from lib.webhooks import form as signature

WAIT_S = 30.0


def _settings() -> dict[str, str]:
    return {**read(ROOT / ".env"), **{k: v for k, v in os.environ.items() if v}}


async def _register(env: dict[str, str], http: httpx.AsyncClient, args: argparse.Namespace) -> None:
    key = env["SUPABASE_SERVICE_ROLE_KEY"]
    response = await http.post(
        f"{env.get('SUPABASE_URL', 'http://127.0.0.1:54321')}/rest/v1/call_numbers",
        json={"number": args.to, "owner_id": args.owner, "goal": args.goal, "context": {}},
        headers={
            "apikey": key,
            "Authorization": f"Bearer {key}",
            "Prefer": "resolution=merge-duplicates",
        },
    )
    response.raise_for_status()


async def _answer(env: dict[str, str], http: httpx.AsyncClient, to: str) -> str:
    provider = env.get("VOICE_PROVIDER", "signalwire")
    key = env.get("SIGNALWIRE_SIGNING_KEY" if provider == "signalwire" else "TWILIO_AUTH_TOKEN")
    if not key:
        raise SystemExit("set SIGNALWIRE_SIGNING_KEY (any value locally) in .env, restart make dev")
    api = f"http://127.0.0.1:{env.get('SOCKLESS_API_PORT', '3000')}"
    public = env.get("PUBLIC_BASE_URL") or api
    form = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": f"CA{secrets.token_hex(16)}",
        "From": "+15550009999",
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    sig = signature.compute(key, f"{public}/api/voice/incoming", form.items())
    response = await http.post(
        f"{api}/api/voice/incoming",
        content=urlencode(form),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-signalwire-signature": sig,
        },
    )
    response.raise_for_status()
    return response.text


async def _saved(env: dict[str, str], http: httpx.AsyncClient, call_id: str) -> dict[str, object]:
    key = env["SUPABASE_SERVICE_ROLE_KEY"]
    url = f"{env.get('SUPABASE_URL', 'http://127.0.0.1:54321')}/rest/v1/calls"
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    async with asyncio.timeout(WAIT_S):
        while True:
            rows = (await http.get(url, params={"id": f"eq.{call_id}"}, headers=headers)).json()
            if rows and rows[0].get("finished_at"):
                return dict(rows[0])
            await asyncio.sleep(0.2)


async def place(args: argparse.Namespace) -> int:
    env = _settings()
    async with httpx.AsyncClient(timeout=10) as http:
        await _register(env, http, args)
        twiml = await _answer(env, http, args.to)
        try:
            url, params, _ = stream_of(twiml)
        except ValueError:
            print(f"the call was not streamed; TwiML:\n{twiml}", file=sys.stderr)
            return 1
        print(f"call {params['callId']} -> {url}")
        async with Phone.call(url, call_id=params["callId"], token=params["token"]) as phone:
            await phone.wait_quiet(within_s=WAIT_S)
            print(f"  heard the greeting ({phone.heard_ms / 1000:.1f} s)")
            for line in args.say:
                if phone.closed:
                    break
                before = phone.received_ms
                spoken = speech(line)
                print(f"  saying ({spoken.source}): {line}")
                await phone.say(spoken.audio, within_s=WAIT_S)

                def answered(phone: Phone = phone, before: float = before) -> bool:
                    return phone.received_ms > before or phone.closed

                def played(phone: Phone = phone) -> bool:
                    return not phone.playing or phone.closed

                await phone.wait_until(answered, WAIT_S)
                await phone.wait_until(played, WAIT_S)
                print(f"  heard the reply ({phone.heard_ms / 1000:.1f} s so far)")
            if phone.closed:
                print(f"  the assistant hung up ({phone.close_reason})")
        row = await _saved(env, http, params["callId"])
    fields = ("end_reason", "outcome", "outcome_notes", "duration_s", "summary")
    print(
        json.dumps({**{f: row.get(f) for f in fields}, "transcript": row["transcript"]}, indent=2)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.call", description=__doc__)
    parser.add_argument("--to", default="+15550100000", help="the number called (E.164)")
    parser.add_argument("--owner", default="demo-user", help="the user who owns the number")
    parser.add_argument("--goal", default="Take table bookings for Sockless Bistro")
    parser.add_argument(
        "--say", action="append", help="what the caller says, in order (repeatable)"
    )
    args = parser.parse_args(argv)
    args.say = args.say or list(DEFAULT_SCRIPT)
    return asyncio.run(place(args))


if __name__ == "__main__":
    sys.exit(main())
