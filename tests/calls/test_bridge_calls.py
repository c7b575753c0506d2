"""Calls end to end on loopback: a signed webhook answers with TwiML, the phone simulator
streams the call to the bridge, the bridge talks to the fake OpenAI, saves the call and
publishes `call-ended`, which a pusher-js client receives through the real /api/realtime/auth.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from dev.fake_openai import Behaviour
from dev.phone import Phone
from dev.speech import speech
from dev.stack import Stack
from lib.features.calls import token
from tests.calls.conftest import FAST
from tests.calls.harness import VoiceWorld, voice_world
from tests.realtime.realtime_harness import CLIENT_JS, ROOT, PusherJs
from tests.support import unique
from worker.config import Secret

Subscriber = Callable[[str], Awaitable[PusherJs]]


@pytest.fixture
async def subscribed(stack: Stack, token) -> AsyncIterator[Subscriber]:
    """subscribed(user) -> pusher-js, signed in as `user`, subscribed to private-user-{user}."""
    assert stack.realtime is not None
    clients: list[PusherJs] = []

    async def start(user: str) -> PusherJs:
        options = {
            "host": stack.realtime.host,
            "port": stack.realtime.port,
            "key": stack.realtime.key,
            "authEndpoint": f"{stack.api_url}/api/realtime/auth",
            "headers": {"Authorization": f"Bearer {token(user)}"},
            "lifetimeMs": 60_000,
        }
        process = await asyncio.create_subprocess_exec(
            "node",
            str(CLIENT_JS),
            json.dumps(options),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        client = PusherJs(process)
        clients.append(client)
        await client.expect("connected")
        outcome = await client.subscribe(f"private-user-{user}")
        assert outcome["type"] == "subscribed", outcome
        return client

    try:
        yield start
    finally:
        for client in clients:
            await client.close()


async def test_a_full_inbound_call(voice: VoiceWorld, subscribed: Subscriber):
    owner = unique("owner")
    number = voice.number(
        owner, goal="Book a table for two", context='{"restaurant": "Sockless Bistro"}'
    )
    client = await subscribed(owner)
    answer = await voice.incoming(to=number)
    assert answer.status == 200, answer.body
    assert answer.stream_url == voice.bridge.media_url
    assert f"/{voice.bridge.config.path_secret.get()}/media" in answer.stream_url

    async with voice.phone(answer) as phone:
        await phone.wait_quiet()  # the greeting, played out
        greeting_ms = phone.received_ms
        await phone.say(speech("Hi, I would like to book a table for two tomorrow.").audio)
        await phone.wait_until(lambda: phone.received_ms > greeting_ms)
        await phone.wait_quiet()  # the reply
        reply_ms = phone.received_ms
        await phone.say(speech("Yes, that works for me.").audio)
        await phone.wait_until(lambda: phone.received_ms > reply_ms)
        await phone.wait_quiet()  # "noted"
    row = await voice.saved(answer.call_id)

    session = voice.fake.sessions[0]
    assert "openai-beta" not in session.headers
    assert session.session["type"] == "realtime"
    assert session.session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert "Book a table for two" in session.session["instructions"]
    assert "Sockless Bistro" in session.session["instructions"]
    roles = [entry["role"] for entry in row["transcript"]]
    assert roles.count("caller") == 2 and roles.count("assistant") >= 3, row["transcript"]
    assert [e["atMs"] for e in row["transcript"]] == sorted(e["atMs"] for e in row["transcript"])
    assert row["transcript"][0]["role"] == "assistant"  # the greeting came first
    assert row["outcome"] == "goal_achieved"
    assert row["end_reason"] == "caller_hangup"
    assert "Book a table for two" in row["summary"]
    assert row["summary_kind"] == "extractive"  # no model key configured
    assert row["status"] == "completed" and row["duration_s"] >= 1
    event = await client.expect("event", channel=f"private-user-{owner}")
    assert event["event"] == "call-ended"
    assert event["data"]["type"] == "call-ended"
    assert event["data"]["data"]["call"]["id"] == answer.call_id
    assert event["data"]["data"]["call"]["outcome"] == "goal_achieved"
    assert event["data"]["data"]["call"]["summaryKind"] == "extractive"


@pytest.mark.parametrize("append_ms", [20, 60], ids=["append-per-frame", "append-per-60ms"])
async def test_barge_in_clears_playback_and_truncates_at_what_was_heard(
    stack: Stack, append_ms: int
):
    """Also with caller audio sent up in 60 ms appends (BRIDGE_APPEND_MS): OpenAI's VAD
    still hears the caller talk over the story, just up to 40 ms later."""
    behaviour = Behaviour(ms_per_word=60, speed=4.0, script=("Tell me a long story.", "Stop!"))
    async with voice_world(stack, behaviour, append_ms=append_ms) as voice:
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            await phone.wait_quiet()  # greeting
            # everything before the long reply has played (read now: once its audio comes,
            # the phone may play a frame of it before this test's task runs again)
            base = phone.heard_ms
            await phone.say(speech("Tell me a long story.").audio)
            await phone.wait_until(lambda: phone.playing)
            await phone.wait_heard(base + 1000)  # a second of the story...
            await phone.say(speech("Stop, please stop.").audio)  # ...then talk over it
            await phone.wait_until(lambda: len(phone.clears) == 1)
            await voice.fake.wait_until(lambda: len(voice.fake.sessions[0].truncates) == 1)
            await phone.wait_quiet()  # the answer to "Stop!"
        row = await voice.saved(answer.call_id)

    clear = phone.clears[0]
    assert clear.dropped_ms > 1000  # the rest of the story never played
    session = voice.fake.sessions[0]
    [truncate] = session.truncates
    played = [heard - base for _, heard in phone.marks_echoed[: clear.echoes_before]]
    assert truncate["audio_end_ms"] in [int(ms) for ms in played]  # a position the phone played
    assert 1000 <= truncate["audio_end_ms"] <= clear.heard_ms - base
    assert truncate["audio_end_ms"] < session.generated_ms[truncate["item_id"]]
    assert session.errors == []  # the fake refuses a truncate past the audio it generated
    story = next(
        e for e in row["transcript"] if "long story" in e["text"] and e["role"] == "assistant"
    )
    assert story["interrupted"] is True
    assert row["stats"]["truncations"] == 1
    assert row["stats"]["stale_marks"] >= 1  # echoed by the clear, and ignored
    # every frame went up, in order, in appends of append_ms (but the last, partial append,
    # and a frame the phone's clock may send after its `stop`)
    frame_bytes = 160
    assert session.audio_in == phone.wire_out[: len(session.audio_in)]
    assert len(phone.wire_out) - len(session.audio_in) <= append_ms // 20 * frame_bytes
    appends = session.received["input_audio_buffer.append"]
    assert appends == len(session.audio_in) // (append_ms // 20 * frame_bytes)


async def test_a_stream_with_a_bad_token_is_closed_before_anything_happens(voice: VoiceWorld):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    other = await voice.incoming(to=voice.number(unique("owner")))
    secret = voice.calls.bridge_token_secret.get()
    expired = token.mint(secret, answer.call_id, ttl_s=-5)
    attempts = [
        {"callId": answer.call_id, "token": answer.token + "x"},
        {"callId": answer.call_id, "token": other.token},  # another call's token
        {"callId": answer.call_id, "token": expired},
        {"callId": answer.call_id},
        {},
    ]
    for parameters in attempts:
        async with Phone.call(answer.stream_url, parameters=parameters) as phone:
            code, reason = await phone.wait_closed()
        assert (code, reason) == (1008, "invalid stream token"), parameters
        assert phone.received_bytes == 0
    assert voice.fake.sessions == []  # OpenAI was never contacted
    row = voice.row(answer.call_id)
    assert row is not None and row["finished_at"] is None and row["transcript"] == []


async def test_malformed_oversized_and_binary_frames_are_dropped_and_counted(voice: VoiceWorld):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    oversized = json.dumps(
        {"event": "media", "streamSid": "MZ1", "media": {"payload": "A" * 100_000}}
    )
    async with voice.phone(answer) as phone:
        await phone.send_raw("not json at all")
        await phone.send_raw('{"event": "tea", "streamSid": "MZ1"}')
        await phone.send_raw('{"event": "media"}')
        await phone.send_raw(b"\x00\x01 binary")
        await phone.send_raw(oversized)
        await phone.wait_quiet()  # the call goes on: the greeting plays
        assert not phone.closed
    row = await voice.saved(answer.call_id)
    stats = row["stats"]
    assert (stats["dropped_malformed"], stats["dropped_binary"], stats["dropped_oversized"]) == (
        3,
        1,
        1,
    )
    assert row["end_reason"] == "caller_hangup"
    status, body = voice.bridge.health()
    assert (status, body["status"]) == (200, "healthy")


async def test_a_frame_over_the_hard_limit_closes_only_that_call_and_it_is_saved(
    voice: VoiceWorld,
):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    async with voice.phone(answer) as phone:
        await phone.wait_heard(100)
        await phone.send_raw("x" * (voice.bridge.config.max_frame_bytes * 16 + 1))
        code, _ = await phone.wait_closed()
    assert code == 1009  # message too big: the socket, not the worker
    row = await voice.saved(answer.call_id)
    assert row["end_reason"] == "telephony_closed"
    assert voice.bridge.health()[0] == 200


async def test_openai_dropping_mid_call_ends_the_call_and_records_it(voice: VoiceWorld):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    async with voice.phone(answer) as phone:
        await phone.wait_quiet()
        await voice.fake.drop_all(1011, "server_error")
        code, reason = await phone.wait_closed()
    # closing the stream (no REST hang-up) makes the provider speak the TwiML fallback
    assert (code, reason) == (1000, "openai_disconnected")
    assert "</Connect><Say>" in answer.body
    row = await voice.saved(answer.call_id)
    assert row["end_reason"] == "openai_disconnected"
    assert {"type": "disconnected", "code": 1011} in row["stats"]["openai_errors"]
    assert row["transcript"][0]["role"] == "assistant"  # what was said is kept


async def test_the_time_limit_ends_the_call_with_a_goodbye(stack: Stack):
    async with voice_world(stack, FAST, max_call_s=2.0) as voice:
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            code, reason = await phone.wait_closed()
            assert not phone.playing  # the goodbye was heard to the end
        row = await voice.saved(answer.call_id)
    assert (code, reason) == (1000, "max_duration")
    assert row["end_reason"] == "max_duration"
    assert "Goodbye" in row["transcript"][-1]["text"]
    received = voice.fake.sessions[0].received
    assert received["conversation.item.create"] == 2  # the greeting, then the time's-up note


async def test_end_call_says_goodbye_then_hangs_up_through_the_provider(stack: Stack):
    hangups: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        hangups.append(request)
        return httpx.Response(200, json={"sid": request.url.path.rsplit("/", 1)[1][:-5]})

    script = ("Yes, that works for me. Goodbye!",)
    async with (
        httpx.AsyncClient(mounts={"all://space.test": httpx.MockTransport(provider)}) as http,
        voice_world(
            stack,
            Behaviour(ms_per_word=60, speed=8.0, script=script),
            http=http,
            signalwire_space_url="space.test",
            signalwire_project_id="project-1",
            signalwire_api_token=Secret("api-token"),
        ) as voice,
    ):
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            await phone.wait_quiet()
            await phone.say(speech("Yes, that works for me. Goodbye!").audio)
            code, reason = await phone.wait_closed()
            assert not phone.playing
        row = await voice.saved(answer.call_id)
    assert (code, reason) == (1000, "end_call")
    [hangup] = hangups
    assert hangup.method == "POST"
    assert hangup.url.path == (
        f"/api/laml/2010-04-01/Accounts/project-1/Calls/{phone.call_sid}.json"
    )
    assert hangup.content == b"Status=completed"
    assert hangup.headers["authorization"].startswith("Basic ")
    assert row["end_reason"] == "end_call"
    assert row["outcome"] == "goal_achieved"
    assert row["transcript"][-1]["text"] == "Goodbye, have a lovely evening!"
    names = [name for name, _ in voice.fake.sessions[0].tool_calls]
    assert names == ["record_outcome", "end_call"]


async def test_signalwire_l16_at_24_khz_passes_through_as_pcm(stack: Stack):
    async with voice_world(stack, FAST, api_env={"VOICE_STREAM_CODEC": "l16"}) as voice:
        answer = await voice.incoming(to=voice.number(unique("owner")))
        assert answer.attributes is not None and answer.attributes["codec"] == "L16@24000h"
        async with voice.phone(answer, encoding="pcm24k") as phone:
            await phone.wait_quiet()
            heard = phone.received_ms
            await phone.say(speech("Hello there.", encoding="pcm24k").audio)
            await phone.wait_until(lambda: phone.received_ms > heard)
            await phone.wait_quiet()
        row = await voice.saved(answer.call_id)
    session = voice.fake.sessions[0].session
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert [e["role"] for e in row["transcript"]][:3] == ["assistant", "caller", "assistant"]


async def test_an_unsupported_audio_format_is_refused_and_saved(voice: VoiceWorld):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    l16_16k = {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}
    async with voice.phone(answer, media_format=l16_16k) as phone:
        await phone.wait_closed()
    row = await voice.saved(answer.call_id)
    assert row["end_reason"] == "unsupported_audio"


class FlakySaves(httpx.AsyncBaseTransport):
    """The real network, except that the first `failures` saves answer 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.saves = 0
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/rpc/calls_finish"):
            self.saves += 1
            if self.saves <= self.failures:
                return httpx.Response(503, json={"message": "the database is restarting"})
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_a_save_that_fails_is_retried_until_it_is_stored(stack: Stack):
    transport = FlakySaves(failures=2)
    async with (
        httpx.AsyncClient(transport=transport) as http,
        voice_world(stack, FAST, http=http) as voice,
    ):
        answer = await voice.incoming(to=voice.number(unique("owner")))
        async with voice.phone(answer) as phone:
            await phone.wait_heard(100)
        row = await voice.saved(answer.call_id)
    assert transport.saves == 3
    assert row["end_reason"] == "caller_hangup" and row["transcript"]


async def test_an_openai_error_ends_the_call_and_a_request_error_does_not(voice: VoiceWorld):
    answer = await voice.incoming(to=voice.number(unique("owner")))
    async with voice.phone(answer) as phone:
        await phone.wait_quiet()
        await voice.fake.fail_all("invalid_request_error", "Invalid value: 'x'.")
        await voice.fake.fail_all("server_error", "The server had an error.")
        code, reason = await phone.wait_closed()
    assert (code, reason) == (1000, "openai_error")
    row = await voice.saved(answer.call_id)
    assert row["end_reason"] == "openai_error"
    assert [e["type"] for e in row["stats"]["openai_errors"]] == [
        "invalid_request_error",
        "server_error",
    ]
