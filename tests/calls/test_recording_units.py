"""The recorder (worker/recording.py) without a call: where the assistant's audio lands on the
caller's timeline, barge-in, and the G.711 decoding, checked against dev/speech's decoder."""

from __future__ import annotations

import base64
import io
import wave
from array import array

from dev.speech import ULAW_DECODE
from worker.recording import Recorder
from worker.telephony import L16_24K, PCMU


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def channels(wav_bytes: bytes) -> tuple[array[int], array[int], int]:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
        return samples[0::2], samples[1::2], wav.getframerate()


def test_assistant_audio_is_placed_when_sent_and_a_barge_in_drops_what_was_not_played():
    recorder = Recorder(PCMU)
    for _ in range(5):  # 100 ms of caller audio
        recorder.heard(b64(bytes([0x80]) * 160))
    recorder.said(b64(bytes([0x00]) * 400))  # sent at 100 ms: plays 100..150 ms
    recorder.said(b64(bytes([0x10]) * 400))  # queued behind it: 150..200 ms
    recorder.heard(b64(bytes([0x80]) * 160))  # 120 ms
    recorder.cleared()  # barge-in at 120 ms: the rest is never played
    for _ in range(4):
        recorder.heard(b64(bytes([0x80]) * 160))  # up to 200 ms
    recording = recorder.assemble()
    left, right, rate = channels(recording.wav)
    assert rate == 8000 and recording.duration_ms == 200 and len(left) == len(right) == 1600
    assert set(left) == {ULAW_DECODE[0x80]}
    assert set(right[:800]) == {0}  # silence before the first chunk was sent
    assert set(right[800:960]) == {ULAW_DECODE[0x00]}  # played until the barge-in
    assert set(right[960:]) == {0}


def test_the_decoding_is_g711_for_every_code_and_l16_is_byte_swapped():
    recorder = Recorder(PCMU)
    recorder.heard(b64(bytes(range(256))))
    left, _, _ = channels(recorder.assemble().wav)
    assert list(left) == list(ULAW_DECODE)

    recorder = Recorder(L16_24K)
    samples = array("h", [1, -2, 300, -32768, 32767, 0])
    wire = array("h", samples)
    wire.byteswap()  # L16 on the wire is big-endian
    recorder.heard(b64(wire.tobytes()))
    left, right, rate = channels(recorder.assemble().wav)
    assert rate == 24000 and left == samples and set(right) == {0}


def test_a_recorder_that_is_off_keeps_nothing():
    recorder = Recorder(PCMU, enabled=False)
    recorder.heard(b64(b"\x80" * 160))
    recorder.said(b64(b"\x00" * 160))
    assert recorder.empty
