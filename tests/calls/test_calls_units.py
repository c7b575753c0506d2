"""The pure pieces of calls, without the stack: signatures, stream tokens (both sides), TwiML,
the media-stream and OpenAI codecs, playback accounting, transcripts, prompts, config."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from dev.phone import stream_of
from lib.features.calls import token, twiml
from lib.webhooks import form as signature
from worker import prompt, realtime_events, telephony, wire
from worker import token as bridge_token
from worker.appends import Appends
from worker.config import BridgeConfig, load
from worker.playback import Cut, Playback
from worker.transcript import Transcript

# -- webhook signatures ---------------------------------------------------------------------

TWILIO_EXAMPLE = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]


def test_the_signature_matches_twilios_published_example():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature.compute("12345", url, TWILIO_EXAMPLE) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    reordered = signature.compute("12345", url, reversed(TWILIO_EXAMPLE))
    assert reordered == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_repeated_fields_are_signed_in_sorted_order():
    once = signature.compute("k", "https://x.example/h", [("E", "b"), ("E", "a"), ("A", "1")])
    assert once == signature.compute(
        "k", "https://x.example/h", [("A", "1"), ("E", "a"), ("E", "b")]
    )


# -- stream tokens ----------------------------------------------------------------------------

CALL = "6f1c2a7e-1b2c-4d3e-8f90-0123456789ab"


def test_what_the_api_mints_the_bridge_accepts():
    minted = token.mint("s3cret", CALL, ttl_s=60)
    assert bridge_token.verify("s3cret", minted, call_id=CALL)
    assert token.verify("s3cret", minted, call_id=CALL)


@pytest.mark.parametrize(
    "secret, call_id, mutate, now_offset",
    [
        ("other", CALL, lambda t: t, 0),
        ("s3cret", CALL.replace("6f", "7f"), lambda t: t, 0),
        ("s3cret", CALL, lambda t: t[:-2] + "xx", 0),
        ("s3cret", CALL, lambda t: t.replace("v1.", "v2.", 1), 0),
        ("s3cret", CALL, lambda t: t, 120),
        ("", CALL, lambda t: t, 0),
    ],
)
def test_the_bridge_refuses_a_token_that_is_not_exactly_right(secret, call_id, mutate, now_offset):
    minted = mutate(token.mint("s3cret", CALL, ttl_s=60, now=1000))
    assert not bridge_token.verify(secret, minted, call_id=call_id, now=1000 + now_offset)


def test_minting_needs_a_secret_and_a_call_id():
    with pytest.raises(ValueError, match="BRIDGE_TOKEN_SECRET"):
        token.mint("", CALL, ttl_s=60)
    with pytest.raises(ValueError, match="not a call id"):
        token.mint("s", "abc.def", ttl_s=60)


# -- TwiML ------------------------------------------------------------------------------------


def test_the_stream_answer_passes_values_as_parameters_and_falls_back_to_speech():
    document = twiml.connect_stream(
        "wss://bridge.example/media", {"callId": CALL, "token": 'a"b&c<d'}, codec="L16@24000h"
    )
    url, params, attributes = stream_of(document)
    assert (url, attributes["codec"]) == ("wss://bridge.example/media", "L16@24000h")
    assert params == {"callId": CALL, "token": 'a"b&c<d'}
    assert document.endswith(f"</Connect><Say>{twiml.FALLBACK}</Say><Hangup/></Response>")
    assert twiml.say_and_hang_up("A & B") == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>A &amp; B</Say><Hangup/></Response>'
    )
    with pytest.raises(ValueError, match="query string"):
        twiml.connect_stream("wss://bridge.example/media?token=x", {})


# -- media-stream frames ---------------------------------------------------------------------

START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "AC1",
        "streamSid": "MZ1",
        "callSid": "CA1",
        "tracks": ["inbound"],
        "customParameters": {"callId": CALL, "token": "t"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
    "streamSid": "MZ1",
}


def test_inbound_frames_parse_into_their_events():
    start = telephony.parse(json.dumps(START))
    assert isinstance(start, telephony.Start)
    assert start.start.customParameters == {"callId": CALL, "token": "t"}
    assert telephony.audio_format(start.start.mediaFormat) is telephony.PCMU
    media = telephony.parse(
        '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1",'
        '"timestamp":"20","payload":"//8="},"streamSid":"MZ1"}'
    )
    assert isinstance(media, telephony.Media) and media.media.payload == "//8="
    mark = telephony.parse('{"event":"mark","streamSid":"MZ1","mark":{"name":"a1"}}')
    assert isinstance(mark, telephony.Mark) and mark.mark.name == "a1"
    dtmf = telephony.parse('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"5"}}')
    assert isinstance(dtmf, telephony.Dtmf) and dtmf.dtmf.digit == "5"
    assert isinstance(telephony.parse('{"event":"stop","stop":{}}'), telephony.Stop)
    connected = '{"event":"connected","protocol":"Call","version":"0.2.0"}'
    assert isinstance(telephony.parse(connected), telephony.Connected)


@pytest.mark.parametrize(
    "frame",
    ["", "{", "[]", '{"event":"tea"}', '{"event":"media"}', '{"event":"mark","mark":{}}', b"\x00"],
)
def test_malformed_frames_are_frame_errors(frame):
    with pytest.raises(telephony.FrameError):
        telephony.parse(frame)


def test_outbound_frames_are_what_the_provider_expects():
    assert json.loads(telephony.media("MZ1", "AAA=")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": "AAA="},
    }
    assert json.loads(telephony.mark("MZ1", "a7")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "a7"},
    }
    assert json.loads(telephony.clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def test_audio_formats_and_durations():
    l16 = telephony.MediaFormat(encoding="audio/x-L16", sampleRate=24000)
    assert telephony.audio_format(l16).openai == {"type": "audio/pcm", "rate": 24000}
    with pytest.raises(telephony.UnsupportedFormat):
        telephony.audio_format(telephony.MediaFormat(encoding="audio/x-L16", sampleRate=16000))
    for size in (0, 1, 2, 3, 160, 161, 959):
        payload = base64.b64encode(b"\xff" * size).decode()
        assert telephony.decoded_length(payload) == size
    assert telephony.PCMU.duration_ms(base64.b64encode(b"\xff" * 160).decode()) == 20
    assert telephony.PCM24K.duration_ms(base64.b64encode(b"\x00" * 960).decode()) == 20


def test_l16_is_swapped_between_network_order_and_openais_little_endian():
    l16 = telephony.MediaFormat(encoding="audio/x-L16", sampleRate=24000)
    samples = (0x0102, -2, 0x7FFF, -0x8000, 0x1234)
    big, little = struct.pack(">5h", *samples), struct.pack("<5h", *samples)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    audio = telephony.audio_format(l16)  # RFC 3551: big-endian
    assert audio.duration_ms(b64(big * 96)) == 20  # 960 bytes
    assert audio.to_openai(b64(big)) == b64(little)
    assert audio.to_caller(b64(little)) == b64(big)
    assert audio.to_openai(b64(big + b"\x09")) == b64(little + b"\x09")  # a stray odd byte
    passthrough = telephony.audio_format(l16, l16_byte_order="little")
    assert passthrough.to_openai(b64(little)) == b64(little)
    pcmu = telephony.audio_format(telephony.MediaFormat(encoding="audio/x-mulaw", sampleRate=8000))
    assert pcmu.to_openai(b64(big)) == b64(big) and pcmu.to_caller(b64(big)) == b64(big)


# -- OpenAI Realtime events ------------------------------------------------------------------


def test_server_events_parse_by_type_and_unknown_types_are_other():
    delta = realtime_events.parse(
        '{"type":"response.output_audio.delta","response_id":"r","item_id":"i",'
        '"output_index":0,"content_index":0,"delta":"AAA="}'
    )
    assert isinstance(delta, realtime_events.AudioDelta) and delta.item_id == "i"
    call = realtime_events.parse(
        '{"type":"response.function_call_arguments.done","call_id":"c","name":"end_call",'
        '"arguments":"{}"}'
    )
    assert isinstance(call, realtime_events.FunctionCall)
    error = realtime_events.parse('{"type":"error","error":{"type":"server_error","message":"x"}}')
    assert isinstance(error, realtime_events.Error) and error.error.type == "server_error"
    other = realtime_events.parse('{"type":"rate_limits.updated","rate_limits":[]}')
    assert isinstance(other, realtime_events.Other)
    with pytest.raises(realtime_events.EventError):
        realtime_events.parse("{not json")


def test_the_session_update_is_the_ga_shape():
    update = json.loads(
        realtime_events.session_update(
            model="gpt-realtime",
            instructions="be brief",
            audio_format={"type": "audio/pcmu"},
            voice="marin",
            transcription_model="gpt-4o-mini-transcribe",
            silence_ms=500,
            tools=prompt.TOOLS,
        )
    )
    session = update["session"]
    assert update["type"] == "session.update" and session["type"] == "realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    assert [tool["name"] for tool in session["tools"]] == ["end_call", "record_outcome"]
    for beta_only in ("modalities", "input_audio_format", "voice", "turn_detection"):
        assert beta_only not in session
    assert json.loads(realtime_events.truncate("i", 1234)) == {
        "type": "conversation.item.truncate",
        "item_id": "i",
        "content_index": 0,
        "audio_end_ms": 1234,
    }


def test_instructions_carry_the_goal_and_context():
    text = prompt.instructions(
        goal="Confirm the delivery", context={"name": "Ada", "items": [1, 2]}, direction="outbound"
    )
    assert "Confirm the delivery" in text and "- name: Ada" in text and "- items: [1, 2]" in text
    assert "You placed this call" in text
    assert prompt.parse_arguments('{"outcome": "goal_achieved"}') == {"outcome": "goal_achieved"}
    assert prompt.parse_arguments("nope") == {} and prompt.parse_arguments("[1]") == {}


# -- playback ----------------------------------------------------------------------------------


def test_marks_tell_what_was_heard_and_a_barge_in_cuts_there():
    playback = Playback()  # a mark after every chunk
    first = [playback.sent("item-1", 100) for _ in range(3)]
    second = playback.sent("item-2", 50)
    assert None not in first and second is not None
    assert playback.acknowledge(first[1])  # marks echo in order: first[0] too
    assert playback.heard_ms("item-1") == 200 and playback.playing
    assert playback.interrupt() == [Cut("item-1", 200), Cut("item-2", 0)]
    assert not playback.playing and playback.is_cut("item-1") and playback.is_cut("item-2")
    assert not playback.acknowledge(first[2])  # echoed by the clear: stale, ignored
    assert not playback.acknowledge(second)
    assert playback.heard_ms("item-1") == 200 and playback.stale_marks == 2


def test_coalesced_marks_follow_every_100_ms_of_audio_and_the_end_of_a_response():
    playback = Playback(mark_every_ms=100)
    marks = [playback.sent("reply", 20) for _ in range(7)]
    assert marks[:4] == [None] * 4 and marks[4] is not None and marks[5:] == [None, None]
    assert playback.acknowledge(marks[4])
    assert playback.heard_ms("reply") == 100 and playback.playing  # 40 ms not marked yet
    assert playback.interrupt() == [Cut("reply", 100)]  # unmarked audio is not heard audio
    playback.sent("next", 30)
    playback.sent("after", 30)
    last = playback.mark()  # the response is done: one mark covers both items
    assert last is not None and playback.mark() is None
    assert playback.acknowledge(last)
    assert (playback.heard_ms("next"), playback.heard_ms("after")) == (30, 30)
    assert not playback.playing


def test_fully_heard_items_are_not_cut():
    playback = Playback()
    mark = playback.sent("done", 80.5)
    assert mark is not None and playback.acknowledge(mark)
    playback.sent("next", 40)
    assert playback.interrupt() == [Cut("next", 0)]
    assert not playback.is_cut("done")


# -- transcript ----------------------------------------------------------------------------------


def test_entries_are_placed_when_the_utterance_began():
    now = [0.0]
    transcript = Transcript(clock=lambda: now[0])
    now[0] = 1.0
    transcript.began("caller-1")
    now[0] = 2.0
    transcript.began("reply-1")
    now[0] = 3.0
    transcript.add("assistant", "Hello there", item_id="reply-1")
    transcript.interrupted("reply-1")
    transcript.add("caller", "  hi  ", item_id="caller-1")
    transcript.add("caller", "   ")  # nothing said: no entry
    assert transcript.as_json() == [
        {"role": "caller", "text": "hi", "atMs": 1000},
        {"role": "assistant", "text": "Hello there", "atMs": 2000, "interrupted": True},
    ]


# -- bridge settings ---------------------------------------------------------------------------


PATH = "p" * 24
"""A path secret."""


def test_bridge_settings_are_checked_when_loaded():
    with pytest.raises(ValueError, match="BRIDGE_TOKEN_SECRET"):
        load({})
    with pytest.raises(ValueError, match="BRIDGE_PATH_SECRET"):
        load({"BRIDGE_TOKEN_SECRET": "s", "OPENAI_API_KEY": "k"})
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        load({"BRIDGE_TOKEN_SECRET": "s", "BRIDGE_PATH_SECRET": PATH})
    local = load(
        {
            "BRIDGE_TOKEN_SECRET": "s",
            "BRIDGE_PATH_SECRET": PATH,
            "OPENAI_REALTIME_URL": "ws://127.0.0.1:1/v1/realtime",
        }
    )
    assert local.openai_url == "ws://127.0.0.1:1/v1/realtime?model=gpt-realtime"
    assert "s" not in repr(local.token_secret) and PATH not in repr(local)
    assert local.media_path == f"/{PATH}/media"
    assert (local.start_timeout_s, local.l16_byte_order) == (2.0, "big")
    with pytest.raises(ValueError, match="below"):
        BridgeConfig(drain_s=290, goodbye_timeout_s=10, shutdown_timeout_s=290)
    base = {"BRIDGE_TOKEN_SECRET": "s", "OPENAI_API_KEY": "k", "BRIDGE_PATH_SECRET": PATH}
    with pytest.raises(ValueError, match="VOICE_PROVIDER"):
        load({**base, "VOICE_PROVIDER": "skype"})
    with pytest.raises(ValueError, match="BRIDGE_L16_BYTE_ORDER"):
        load({**base, "BRIDGE_L16_BYTE_ORDER": "middle"})
    tuned = load({**base, "BRIDGE_START_TIMEOUT_S": "0.5", "BRIDGE_L16_BYTE_ORDER": "little"})
    assert (tuned.start_timeout_s, tuned.l16_byte_order) == (0.5, "little")


def test_the_path_secret_is_one_long_segment_and_agrees_with_bridge_url():
    base = {"BRIDGE_TOKEN_SECRET": "s", "OPENAI_API_KEY": "k"}
    # one value for both sides: the api streams to $BRIDGE_URL/media
    derived = load({**base, "BRIDGE_URL": f"wss://bridge.fly.dev/{PATH}"})
    assert derived.media_path == f"/{PATH}/media"
    same = load({**base, "BRIDGE_URL": f"wss://b.test/{PATH}/", "BRIDGE_PATH_SECRET": PATH})
    assert same.path_secret.get() == PATH
    hostonly = load({**base, "BRIDGE_URL": "wss://b.test", "BRIDGE_PATH_SECRET": PATH})
    assert hostonly.media_path == f"/{PATH}/media"
    with pytest.raises(ValueError, match="must be /"):
        load({**base, "BRIDGE_URL": "wss://b.test/other-secret-000000", "BRIDGE_PATH_SECRET": PATH})
    for weak in ("short", "a/b" * 8, "x" * 129, "sp ace" * 4):
        with pytest.raises(ValueError, match="16-128 characters"):
            load({**base, "BRIDGE_PATH_SECRET": weak})


@pytest.mark.parametrize("payload", ["//8=", 'a"b', "a\\b", "é", "a\nb", ""])
def test_per_frame_messages_skip_the_encoder_only_when_nothing_needs_escaping(payload):
    assert json.loads(telephony.media("MZ1", payload))["media"]["payload"] == payload
    assert json.loads(telephony.media('M"Z', payload))["streamSid"] == 'M"Z'
    assert json.loads(realtime_events.append_audio(payload)) == {
        "type": "input_audio_buffer.append",
        "audio": payload,
    }


def test_caller_audio_goes_up_per_frame_or_gathered_into_longer_appends():
    frames = [bytes([n]) * 160 for n in range(7)]  # 20 ms of μ-law each
    payloads = [base64.b64encode(frame).decode() for frame in frames]
    per_frame = Appends(telephony.PCMU, 20)
    assert [per_frame.add(p) for p in payloads] == payloads  # untouched, one each
    gathered = Appends(telephony.PCMU, 60)
    out = [gathered.add(p) for p in payloads]
    assert [o is not None for o in out] == [False, False, True, False, False, True, False]
    assert [base64.b64decode(o) for o in out if o] == [
        b"".join(frames[0:3]),
        b"".join(frames[3:6]),
    ]
    assert gathered.flush() == payloads[6]
    assert gathered.flush() is None


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
@pytest.mark.parametrize("masked", [False, True], ids=["server", "client"])
def test_the_bridges_own_text_frames_are_what_websockets_reads(size, masked):
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    raw = wire.text_frame(data, masked=masked)
    reader = StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=masked, max_size=None)
    with pytest.raises(StopIteration) as parsed:
        next(parser)
    frame = parsed.value.value
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, data)
    if masked:  # a fresh key each frame
        keys = {wire.text_frame(b"x", masked=True)[2:6] for _ in range(2000)}
        assert len(keys) > 1990


def test_caller_audio_and_mark_echoes_are_sliced_exactly_as_parsed():
    twilio = (
        '{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2",'
        '"timestamp":"5","payload":"//8A/w=="},"streamSid":"MZ1"}'
    )
    spaced = json.dumps({"event": "media", "media": {"track": "inbound", "payload": "AAA="}})
    for raw in (twilio, spaced):
        parsed = telephony.parse(raw)
        assert isinstance(parsed, telephony.Media)
        assert telephony.caller_audio(raw) == parsed.media.payload
    mark = '{"event":"mark","sequenceNumber":"9","streamSid":"MZ1","mark":{"name":"a12"}}'
    assert telephony.mark_echo(mark) == "a12"
    assert telephony.mark_echo(json.dumps({"event": "mark", "mark": {"name": "a3"}})) == "a3"
    # anything the slice cannot be sure of is left to the parser
    for raw in (
        twilio.replace('"inbound"', '"outbound"'),  # not the caller's voice
        twilio.replace("//8A", "\\/\\/8A"),  # an escape
        twilio.replace('"streamSid"', '"payload":"x","streamSid"'),  # two payloads
        '{"event": "media"}',
        twilio[:-1],  # cut short
        mark,
    ):
        assert telephony.caller_audio(raw) is None, raw
    assert telephony.mark_echo(twilio) is None
    assert telephony.mark_echo('{"event":"mark","mark":{}}') is None


def test_audio_deltas_are_sliced_exactly_as_parsed():
    compact = (
        '{"type":"response.output_audio.delta","event_id":"event_1","response_id":"resp_1",'
        '"item_id":"item_1","output_index":0,"content_index":0,"delta":"//8A/w=="}'
    )
    spaced = json.dumps(
        {"type": "response.output_audio.delta", "item_id": "item_2", "delta": "AAA="}
    )
    for raw in (compact, spaced):
        event = realtime_events.parse(raw)
        assert isinstance(event, realtime_events.AudioDelta)
        assert realtime_events.audio_delta(raw) == (event.item_id, event.delta)
    for raw in (
        compact.replace("//8A", "\\/\\/8A"),  # an escape
        compact.replace('"output_index"', '"delta":"x","output_index"'),  # two deltas
        compact.replace('"item_id":"item_1",', ""),  # no item
        '{"type":"response.output_audio_transcript.delta","item_id":"i","delta":"hi"}',
        compact[:-1],
    ):
        assert realtime_events.audio_delta(raw) is None, raw
