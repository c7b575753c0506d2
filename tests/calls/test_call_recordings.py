"""Call recordings, end to end: a simulated call through the bridge (fake OpenAI) is recorded,
uploaded to the stack's local S3 (moto's server mode, spoken to with boto3 as Supabase Storage
would be), and its owner alone gets a presigned link (calls.recording, through the stack's
/api/trpc) whose WAV holds exactly what the phone sent and heard. A failed upload is noted on
the saved record; the retention cron deletes old recordings."""

from __future__ import annotations

import io
import json
import wave
from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dev.speech import ULAW_DECODE, speech
from dev.stack import Stack
from tests.calls.conftest import FAST
from tests.calls.harness import voice_world
from tests.support import sql, unique

pytestmark = pytest.mark.stack


def pcm(wire: bytes, encoding: str) -> array[int]:
    """What the phone sent or received, as 16-bit samples (decoded by dev/speech, not by the
    bridge's code)."""
    if encoding == "pcmu":
        return array("h", (ULAW_DECODE[byte] for byte in wire))
    samples = array("h", wire)
    samples.byteswap()  # L16 on the wire is big-endian
    return samples


def sound(samples: array[int]) -> list[int]:
    return [sample for sample in samples if sample]


async def recording_link(stack: Stack, bearer: str | None, call_id: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        return await http.get(
            "/api/trpc/calls.recording",
            params={"input": json.dumps({"callId": call_id})},
            headers=headers,
        )


def trpc_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["data"]["code"])


@pytest.mark.parametrize(
    ("codec", "encoding", "rate"), [("pcmu", "pcmu", 8000), ("l16", "pcm24k", 24000)]
)
async def test_a_call_is_recorded_and_only_its_owner_gets_the_audio(
    stack: Stack, token: Any, codec: str, encoding: str, rate: int
):
    owner = unique("owner")
    async with voice_world(stack, FAST, api_env={"VOICE_STREAM_CODEC": codec}) as voice:
        answer = await voice.incoming(to=voice.number(owner))
        async with voice.phone(answer, encoding=encoding) as phone:
            await phone.wait_quiet()  # the greeting
            heard = phone.received_ms
            await phone.say(speech("Hello there.", encoding=encoding).audio)
            await phone.wait_until(lambda: phone.received_ms > heard)
            await phone.wait_quiet()  # the reply
        row = await voice.saved(answer.call_id)
    assert row["recording_status"] == "stored", row["recording_error"]
    assert row["recording_key"] == f"calls/{owner}/{answer.call_id}.wav"

    link = await recording_link(stack, token(owner), answer.call_id)
    assert link.status_code == 200, link.text
    data = link.json()["result"]["data"]
    assert data["contentType"] == "audio/wav" and data["durationMs"] == row["recording_duration_ms"]
    async with httpx.AsyncClient(timeout=30) as http:
        audio = await http.get(data["url"])
    assert audio.status_code == 200

    with wave.open(io.BytesIO(audio.content)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, rate)
        samples = array("h", wav.readframes(wav.getnframes()))
        assert round(wav.getnframes() * 1000 / rate) == row["recording_duration_ms"]
    left, right = samples[0::2], samples[1::2]
    caller, assistant = pcm(bytes(phone.wire_out), encoding), pcm(bytes(phone.wire_in), encoding)
    # left: every frame the phone sent, in order, from the start of the call
    assert left[: len(caller)] == caller
    assert len(caller) <= len(left) <= len(caller) + len(assistant)
    # right: everything the phone was sent to play (no barge-in here), between the silences
    assert sound(right) == sound(assistant) and len(sound(assistant)) > rate // 2
    assert row["recording_duration_ms"] >= len(caller) * 1000 // rate

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        shown = await http.get(
            "/api/trpc/calls.get",
            params={"input": json.dumps({"id": answer.call_id})},
            headers={"authorization": f"Bearer {token(owner)}"},
        )
    assert shown.json()["result"]["data"]["recording"] == {
        "status": "stored",
        "durationMs": row["recording_duration_ms"],
        "error": None,
    }

    stranger = await recording_link(stack, token(unique("stranger")), answer.call_id)
    assert (stranger.status_code, trpc_code(stranger)) == (404, "NOT_FOUND")
    assert data["url"] not in stranger.text
    anonymous = await recording_link(stack, None, answer.call_id)
    assert (anonymous.status_code, trpc_code(anonymous)) == (401, "UNAUTHORIZED")
    malformed = await recording_link(stack, token(owner), "not-a-call-id")
    assert (malformed.status_code, trpc_code(malformed)) == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ({"storage_s3_bucket": "no-such-bucket"}, "NoSuchBucket"),
        ({"storage_s3_endpoint": "http://127.0.0.1:9", "save_attempts": 2}, "S3 PUT"),
        ({"recordings": False}, "CALL_RECORDINGS=off"),
    ],
    ids=["refused", "unreachable", "off"],
)
async def test_a_call_without_stored_audio_is_saved_saying_why(
    stack: Stack, token: Any, storage: dict[str, Any], expected: str
):
    owner = unique("owner")
    async with voice_world(stack, FAST, **storage) as voice:
        answer = await voice.incoming(to=voice.number(owner))
        async with voice.phone(answer) as phone:
            await phone.wait_heard(100)
        row = await voice.saved(answer.call_id)
    assert row["end_reason"] == "caller_hangup" and row["transcript"]  # the record is whole
    assert row["recording_status"] == ("off" if "recordings" in storage else "failed")
    assert row["recording_key"] is None and expected in row["recording_error"]
    link = await recording_link(stack, token(owner), answer.call_id)
    assert (link.status_code, trpc_code(link)) == (404, "NOT_FOUND")
    assert expected in link.json()["error"]["message"]


def stored_call(stack: Stack, owner: str, *, ended_days_ago: int) -> tuple[str, str]:
    """A finished call whose recording is in the bucket, ended that long ago."""
    assert stack.s3 is not None
    ended = datetime.now(UTC) - timedelta(days=ended_days_ago)
    with sql(stack) as conn:
        call_id = str(
            conn.execute(
                "insert into public.calls (owner_id, provider, direction, from_number, to_number,"
                " status, ended_at, finished_at) values (%s, 'signalwire', 'inbound', '+15550001',"
                " '+15550002', 'completed', %s, %s) returning id",
                [owner, ended, ended],
            ).fetchone()[0]
        )
        key = f"calls/{owner}/{call_id}.wav"
        stack.s3.client().put_object(Bucket="call-recordings", Key=key, Body=b"RIFF")
        conn.execute(
            "update public.calls set recording_status = 'stored', recording_key = %s where id = %s",
            [key, call_id],
        )
    return call_id, key


def test_the_retention_cron_deletes_old_recordings_only(stack: Stack):
    assert stack.s3 is not None
    owner = unique("owner")
    old_call, old_key = stored_call(stack, owner, ended_days_ago=91)
    new_call, new_key = stored_call(stack, owner, ended_days_ago=3)
    bucket = stack.s3.client()
    refused = httpx.get(f"{stack.api_url}/api/cron/recording-retention", timeout=30)
    assert refused.status_code == 401
    ran = httpx.get(
        f"{stack.api_url}/api/cron/recording-retention",
        headers={"authorization": f"Bearer {stack.config.cron_secret}"},
        timeout=60,
    )
    assert ran.status_code == 200, ran.text
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket="call-recordings").get("Contents", [])}
    assert old_key not in keys and new_key in keys
    with sql(stack) as conn:
        rows = dict(
            conn.execute(
                "select id::text, recording_status from public.calls where id = any(%s::uuid[])",
                [[old_call, new_call]],
            ).fetchall()
        )
    assert rows == {old_call: "deleted", new_call: "stored"}
