"""The bridge's defences, through its public edge (real WebSocket / HTTP clients on loopback):
the secret stream path checked before any upgrade, idle sockets closed after the start
timeout, one stream per call (a replayed webhook's fresh token gets nothing, on any machine),
records cleaned of what Postgres cannot store, refused records kept as dead letters, and the
summary's kind."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import struct
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dev.fake_openai import Behaviour
from dev.phone import Phone
from dev.speech import speech, tone
from dev.stack import Stack
from tests.calls.conftest import FAST
from tests.calls.harness import VoiceWorld, eventually, voice_world
from tests.support import unique
from worker.config import Secret
from worker.server import Bridge

REFUSED = (1008, "unknown, finished or already streaming call")


async def refused_upgrade(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=5):
            pass
    return refused.value.response.status_code


# -- 1. the stream path and idle sockets ---------------------------------------------------


async def test_streams_need_the_secret_path_before_any_upgrade(voice: VoiceWorld):
    assert voice.bridge is not None
    bridge, secret = voice.bridge, voice.bridge.config.path_secret.get()
    answer = await voice.incoming(to=voice.number(unique("owner")))
    # the api needs no change: the secret is part of BRIDGE_URL, the TwiML adds /media
    assert voice.calls.bridge_url == f"{bridge.url}/{secret}"
    assert answer.stream_url == f"{bridge.url}/{secret}/media"

    wrong = [
        f"{bridge.url}/media",
        f"{bridge.url}/media?k={secret}",
        f"{bridge.url}/{secret}",
        f"{bridge.url}/{secret}x/media",
        f"{bridge.url}/{secret[:-1]}/media",
        f"{bridge.url}/{secret}/media/x",
        f"{bridge.url}//{secret}/media",
    ]
    for url in wrong:
        assert await refused_upgrade(url) == 404, url
    async with httpx.AsyncClient(timeout=5) as http:
        plain = await http.get(f"{bridge.url.replace('ws://', 'http://')}/media")
    assert plain.status_code == 404 and secret not in plain.text
    assert voice.fake is not None and voice.fake.sessions == []
    assert bridge.active_calls == 0

    async with voice.phone(answer) as phone:  # the right path still works
        await phone.wait_heard(100)


async def test_sockets_that_send_no_valid_start_are_closed_after_two_seconds(voice: VoiceWorld):
    assert voice.bridge is not None
    assert voice.bridge.config.start_timeout_s == 2.0  # the default

    async def idle(chatter: list[str]) -> tuple[int | None, float]:
        began = time.monotonic()
        async with connect(voice.bridge.media_url, open_timeout=5) as ws:
            for message in chatter:
                await ws.send(message)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code, time.monotonic() - began

    connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    not_a_start = json.dumps({"event": "start", "start": {"streamSid": "MZ1"}})  # no format
    media = json.dumps({"event": "media", "media": {"payload": "//8="}})
    chatters = [[], [], [], [connected], [connected, not_a_start, media, "junk"]]
    results = await asyncio.gather(*(idle(chatter) for chatter in chatters))
    for code, elapsed in results:
        assert code == 1008
        assert 1.5 <= elapsed < 4.0, elapsed
    assert voice.fake is not None and voice.fake.sessions == []


async def test_the_start_timeout_is_configurable(stack: Stack):
    async with voice_world(stack, FAST, start_timeout_s=0.5) as voice:
        assert voice.bridge is not None
        began = time.monotonic()
        async with connect(voice.bridge.media_url, open_timeout=5) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1008 and time.monotonic() - began < 1.5


# -- 2. one stream per call ------------------------------------------------------------------


async def test_a_replayed_webhook_gets_no_second_stream(voice: VoiceWorld):
    assert voice.fake is not None
    number, sid = voice.number(unique("owner")), f"CA{secrets.token_hex(16)}"
    first = await voice.incoming(to=number, sid=sid)
    async with voice.phone(first) as phone:
        await phone.wait_heard(100)
        # the same signed webhook again (a replay, or the provider retrying): the same call,
        # a freshly minted token...
        during = await voice.incoming(to=number, sid=sid)
        assert during.call_id == first.call_id and during.token
        # ...but the call is streaming already: refused, here and on any other machine
        async with Phone.call(during.stream_url, call_id=during.call_id, token=during.token) as p:
            assert await p.wait_closed() == REFUSED
        assert voice.bridge is not None
        async with (
            Bridge(voice.bridge.config).running() as other,
            Phone.call(other.media_url, call_id=first.call_id, token=during.token) as p,
        ):
            assert await p.wait_closed() == REFUSED
    saved = await voice.saved(first.call_id)

    after = await voice.incoming(to=number, sid=sid)
    assert after.call_id == first.call_id
    async with Phone.call(after.stream_url, call_id=after.call_id, token=after.token) as late:
        assert await late.wait_closed() == REFUSED
    assert late.received_bytes == 0
    assert len(voice.fake.sessions) == 1  # OpenAI was reached once, by the real stream
    row = voice.row(first.call_id)
    assert row is not None
    assert (row["finished_at"], row["transcript"]) == (saved["finished_at"], saved["transcript"])
    assert row["stream_id"] and row["stream_started_at"] is not None


async def test_a_call_that_already_ended_gets_no_stream(voice: VoiceWorld):
    number, sid = voice.number(unique("owner")), f"CA{secrets.token_hex(16)}"
    answer = await voice.incoming(to=number, sid=sid)
    form = {"CallSid": sid, "CallStatus": "no-answer", "AccountSid": "AC" + "0" * 32}
    assert (await voice.post("/api/voice/status", form)).status_code == 204
    async with voice.phone(answer) as phone:
        assert await phone.wait_closed() == REFUSED
    row = voice.row(answer.call_id)
    assert row is not None
    assert (row["status"], row["stream_id"], row["finished_at"]) == ("no-answer", None, None)
    assert voice.fake is not None and voice.fake.sessions == []


def test_the_stream_guard_and_dead_letters_are_service_role_only(stack: Stack, token):
    rest = f"{stack.supabase_url}/rest/v1"
    headers = {"apikey": stack.config.anon_key}
    user = {**headers, "authorization": f"Bearer {token(unique('mallory'))}"}
    service = {
        "apikey": stack.config.service_role_key,
        "authorization": f"Bearer {stack.config.service_role_key}",
    }
    call = {"p_call_id": "00000000-0000-4000-8000-000000000000", "p_stream_id": "s"}
    letter = {"p_call_id": None, "p_payload": {}, "p_error": "x"}
    with httpx.Client(timeout=10) as http:
        for who in (headers, user):
            start = http.post(f"{rest}/rpc/calls_stream_start", json=call, headers=who)
            dead = http.post(f"{rest}/rpc/calls_dead_letter", json=letter, headers=who)
            read = http.get(f"{rest}/calls_dead_letters?select=id", headers=who)
            assert start.status_code in (401, 403, 404), start.text
            assert dead.status_code in (401, 403, 404), dead.text
            assert read.status_code in (401, 403) or read.json() == [], read.text
        unknown = http.post(f"{rest}/rpc/calls_stream_start", json=call, headers=service)
    assert unknown.json() == {"started": False, "reason": "unknown", "call": None}


# -- 3. records Postgres cannot store as they are ---------------------------------------------


async def test_nul_and_lone_surrogates_are_removed_before_the_call_is_saved(stack: Stack):
    said = "Yes,\x00 that works for me\ud800 thanks."
    async with voice_world(stack, Behaviour(ms_per_word=60, speed=8.0, script=(said,))) as voice:
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            await phone.wait_quiet()
            heard = phone.received_ms
            await phone.say(speech("Yes, that works for me, thanks.").audio)
            await phone.wait_until(lambda: phone.received_ms > heard)
            await phone.wait_quiet()
        row = await voice.saved(answer.call_id)
    clean = "Yes, that works for me thanks."
    assert [e["text"] for e in row["transcript"] if e["role"] == "caller"] == [clean]
    assert row["outcome"] == "goal_achieved" and row["outcome_notes"] == clean
    assert f'"{clean}"' in row["summary"]  # the extractive summary quotes the caller
    assert dead_letters(voice, answer.call_id) == []


def dead_letters(voice: VoiceWorld, call_id: str) -> list[dict[str, Any]]:
    with voice.sql() as conn:
        return conn.execute(
            "select * from public.calls_dead_letters where call_id = %s", [call_id]
        ).fetchall()


async def test_a_record_the_database_refuses_is_kept_as_a_dead_letter(voice: VoiceWorld):
    assert voice.bridge is not None
    answer = await voice.incoming(to=voice.number(unique("owner")))
    async with voice.phone(answer) as phone:
        await phone.wait_quiet()  # the greeting is in the transcript
        with voice.sql() as conn:  # the row goes away mid-call: calls_finish will refuse
            conn.execute("delete from public.calls where id = %s", [answer.call_id])
    letters: list[dict[str, Any]] = []

    async def kept() -> bool:
        letters[:] = await asyncio.to_thread(dead_letters, voice, answer.call_id)
        return bool(letters)

    await eventually(kept, within_s=20)
    [letter] = letters
    assert "unknown call" in letter["error"]
    payload = letter["payload"]
    assert payload["p_call_id"] == answer.call_id
    assert payload["p_end_reason"] == "caller_hangup"
    assert payload["p_transcript"][0]["role"] == "assistant"  # the greeting was kept
    assert payload["p_summary_kind"] == "extractive" and payload["p_summary"]
    bridge = voice.bridge

    async def counted() -> bool:
        return bridge.unsaved == 1

    await eventually(counted, within_s=5)  # not in calls: the exit status still says so


# -- 4. which kind of summary ------------------------------------------------------------------


async def test_a_model_written_summary_is_marked_ai(stack: Stack):
    def anthropic(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/messages"
        return httpx.Response(200, json={"content": [{"type": "text", "text": "Booked."}]})

    async with (
        httpx.AsyncClient(mounts={"all://anthropic.test": httpx.MockTransport(anthropic)}) as http,
        voice_world(
            stack,
            FAST,
            http=http,
            anthropic_api_key=Secret("key"),
            anthropic_api_url="http://anthropic.test",
        ) as voice,
    ):
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            await phone.wait_quiet()
        row = await voice.saved(answer.call_id)
    assert (row["summary"], row["summary_kind"]) == ("Booked.", "ai")


# -- 5. L16 byte order ---------------------------------------------------------------------------


async def test_l16_is_big_endian_on_the_wire_and_little_endian_at_openai(stack: Stack):
    samples = (0x0102, 0x0304, -2, 0x7FFF, -0x8000, 0x1234, 0x00FF, -0x0100) * 60  # 20 ms
    wire = struct.pack(f">{len(samples)}h", *samples)  # what SignalWire sends (RFC 3551)
    pcm = struct.pack(f"<{len(samples)}h", *samples)  # what OpenAI's audio/pcm is
    async with voice_world(stack, FAST, api_env={"VOICE_STREAM_CODEC": "l16"}) as voice:
        assert voice.fake is not None
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer, encoding="pcm24k") as phone:
            await phone.wait_quiet()  # the greeting, played out
            frame = {"event": "media", "media": {"track": "inbound", "payload": ""}}
            frame["media"]["payload"] = base64.b64encode(wire).decode()
            await phone.send_raw(json.dumps({**frame, "streamSid": phone.stream_sid}))
            session = voice.fake.sessions[0]
            await voice.fake.wait_until(lambda: pcm in session.audio_in)
        await voice.saved(answer.call_id)
    assert wire not in session.audio_in
    # OpenAI's audio (the fake's 100 ms tone chunks, little-endian) reaches the phone
    # big-endian, and the phone, reading L16 as big-endian, hears the tone exactly
    chunk = tone(FAST.chunk_ms, frequency=330.0, encoding="pcm24k")
    count = len(chunk) // 2
    assert bytes(phone.wire_in[: len(chunk)]) == struct.pack(
        f">{count}h", *struct.unpack(f"<{count}h", chunk)
    )
    assert bytes(phone.heard[: len(chunk)]) == chunk
