"""A call's audio, both directions, kept as the telephony stream carries it and assembled into a
WAV when the call ends. Pure: no I/O (worker/recording_store.py uploads it).

On the media path the recorder costs one cheap call per frame: `heard(payload)` is the bound
`append` of a list (the base64 payload itself: nothing is decoded, copied or allocated per
frame); `said(payload)` and `cleared()` append one tuple per chunk sent to the caller / per
barge-in. Everything else happens once, at the end, off the event loop (`assemble` runs in a
thread).

The WAV: 16-bit PCM, stereo, at the stream's rate (μ-law 8 kHz -> 8000 Hz; L16 -> 24000 Hz);
left = the caller (every inbound frame, in order: the telephony stream is continuous, so its
frames are the call's clock), right = the assistant as the caller heard it: each chunk starts
when it was sent (counted in inbound frames) or when the previous chunk ends, whichever is
later, and a barge-in (`clear`) drops what had not been played yet. PCM rather than μ-law WAV
(format 7) because every browser and player plays it; it is twice the μ-law size (a 10-minute
μ-law call: 19 MB stereo), and decoding is lossless.
"""

from __future__ import annotations

import base64
import io
import wave
from dataclasses import dataclass
from typing import Literal

from worker.telephony import AudioFormat

Encoding = Literal["pcmu", "l16-big", "pcm-little"]


def _ulaw_to_linear(code: int) -> int:
    """ITU-T G.711 μ-law -> 16-bit linear."""
    u = ~code & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return (0x84 - magnitude) if u & 0x80 else (magnitude - 0x84)


_ULAW = [_ulaw_to_linear(code) & 0xFFFF for code in range(256)]
ULAW_LOW = bytes(sample & 0xFF for sample in _ULAW)
ULAW_HIGH = bytes(sample >> 8 for sample in _ULAW)
ULAW_SILENCE = b"\xff"


@dataclass(frozen=True)
class TrackFormat:
    encoding: Encoding
    sample_rate: int
    sample_bytes: int

    @property
    def silence(self) -> bytes:
        return ULAW_SILENCE if self.encoding == "pcmu" else b"\x00\x00"

    def to_pcm16le(self, data: bytes | bytearray) -> bytes:
        """The track as 16-bit little-endian PCM (whole-buffer C operations, no Python loop)."""
        out = bytearray(len(data) * 2 // self.sample_bytes)
        if self.encoding == "pcmu":
            out[0::2], out[1::2] = data.translate(ULAW_LOW), data.translate(ULAW_HIGH)
        elif self.encoding == "l16-big":
            out[0::2], out[1::2] = data[1::2], data[0::2]
        else:
            out[:] = data
        return bytes(out)


def track_format(audio: AudioFormat) -> TrackFormat:
    if audio.openai.get("type") == "audio/pcmu":
        return TrackFormat("pcmu", 8000, 1)
    return TrackFormat("l16-big" if audio.swap16 else "pcm-little", 24000, 2)


def _ignore(_payload: str) -> None:
    return None


class Recorder:
    """One call's audio as it travels; `assemble` makes the WAV."""

    def __init__(self, audio: AudioFormat | None, *, enabled: bool = True) -> None:
        self.format = track_format(audio) if audio is not None else None
        self.enabled = enabled and audio is not None
        self._heard: list[str] = []
        self._said: list[tuple[int, str | None]] = []
        self.heard = self._heard.append if self.enabled else _ignore
        """Per inbound media frame: its base64 payload, as the provider sent it."""

    def said(self, payload: str) -> None:
        """A media payload sent to the caller (what the provider will play)."""
        if self.enabled:
            self._said.append((len(self._heard), payload))

    def cleared(self) -> None:
        """A barge-in: what was sent but not yet played is dropped."""
        if self.enabled:
            self._said.append((len(self._heard), None))

    @property
    def empty(self) -> bool:
        return not self._heard and not self._said

    def assemble(self) -> Recording:
        """The WAV of everything recorded (call once the call has ended; CPU-bound)."""
        assert self.format is not None
        fmt = self.format
        inbound, offsets = bytearray(), [0]
        for heard in self._heard:
            inbound += base64.b64decode(heard)
            offsets.append(len(inbound))
        outbound = bytearray()
        for frame, payload in self._said:
            at = offsets[frame]
            if payload is None:
                del outbound[at:]
                continue
            if len(outbound) < at:
                outbound += fmt.silence * ((at - len(outbound)) // len(fmt.silence))
            outbound += base64.b64decode(payload)
        length = max(len(inbound), len(outbound))
        length -= length % fmt.sample_bytes
        left = fmt.to_pcm16le(_fit(inbound, length, fmt.silence))
        right = fmt.to_pcm16le(_fit(outbound, length, fmt.silence))
        return Recording(
            wav=stereo_wav(left, right, fmt.sample_rate),
            sample_rate=fmt.sample_rate,
            duration_ms=round(length / fmt.sample_bytes * 1000 / fmt.sample_rate),
        )


@dataclass(frozen=True)
class Recording:
    wav: bytes
    sample_rate: int
    duration_ms: int


def _fit(track: bytearray, length: int, silence: bytes) -> bytes:
    if len(track) >= length:
        return bytes(track[:length])
    return bytes(track) + silence * ((length - len(track)) // len(silence))


def stereo_wav(left: bytes, right: bytes, sample_rate: int) -> bytes:
    """Two 16-bit little-endian PCM tracks of equal length as one stereo WAV file."""
    frames = bytearray(len(left) * 2)
    frames[0::4], frames[1::4] = left[0::2], left[1::2]
    frames[2::4], frames[3::4] = right[0::2], right[1::2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()
