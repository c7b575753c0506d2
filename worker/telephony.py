"""Twilio / SignalWire media-stream frames (JSON text over the WebSocket). Pure codec.

In (from the provider):
    connected  {event, protocol, version}
    start      {event, sequenceNumber, streamSid, start: {streamSid, accountSid, callSid, tracks,
                customParameters, mediaFormat: {encoding, sampleRate, channels}}}
    media      {event, sequenceNumber, streamSid, media: {track, chunk, timestamp, payload}}
    mark       {event, streamSid, mark: {name}}           (echo: audio before it has played)
    dtmf       {event, streamSid, dtmf: {track, digit[, duration]}}
    stop       {event, streamSid, stop: {accountSid, callSid}}
Out (to the provider): media {payload}, mark {name}, clear.

μ-law 8 kHz is passed through untouched (base64 in, base64 out): it is what OpenAI calls
`audio/pcmu`. SignalWire's `L16@24000h` stream (encoding audio/x-L16, 24 kHz) carries the
samples OpenAI calls `audio/pcm` at 24 kHz, but in another byte order: L16 is 16-bit linear
PCM in network byte order, big-endian (RFC 3551 section 4.5.11; the audio/L16 media type,
RFC 2586), while OpenAI's PCM16 is little-endian. So every L16 payload is byte-swapped, both
ways (`AudioFormat.to_openai` / `to_caller`). SignalWire's docs do not state the order, and
its own OpenAI sample passes L16 through as is; BRIDGE_L16_BYTE_ORDER=little does that, should
a provider turn out to send little-endian. Other formats (e.g. L16@16000h, which OpenAI would
need resampled) are refused with UnsupportedFormat.
"""

from __future__ import annotations

import base64
import json
from array import array
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class FrameError(ValueError):
    """A frame that is not valid JSON or not one of the known events."""


class UnsupportedFormat(ValueError):
    """A media format the bridge cannot pass through to OpenAI."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MediaFormat(_Model):
    encoding: str
    sampleRate: int
    channels: int = 1


class StartInfo(_Model):
    streamSid: str
    callSid: str = ""
    accountSid: str = ""
    tracks: list[str] = Field(default_factory=list)
    customParameters: dict[str, str] = Field(default_factory=dict)
    mediaFormat: MediaFormat


class MediaInfo(_Model):
    payload: str
    track: str = "inbound"
    chunk: str | None = None
    timestamp: str | None = None


class MarkInfo(_Model):
    name: str


class DtmfInfo(_Model):
    digit: str
    track: str | None = None


class Connected(_Model):
    event: Literal["connected"]


class Start(_Model):
    event: Literal["start"]
    start: StartInfo


class Media(_Model):
    event: Literal["media"]
    media: MediaInfo


class Mark(_Model):
    event: Literal["mark"]
    mark: MarkInfo


class Dtmf(_Model):
    event: Literal["dtmf"]
    dtmf: DtmfInfo


class Stop(_Model):
    event: Literal["stop"]


Frame = Annotated[Connected | Start | Media | Mark | Dtmf | Stop, Field(discriminator="event")]
_FRAME: TypeAdapter[Frame] = TypeAdapter(Frame)


def parse(text: str | bytes) -> Frame:
    """One inbound frame; FrameError if it is malformed or an unknown event."""
    if isinstance(text, bytes):
        raise FrameError("binary frames are not media-stream messages")
    try:
        return _FRAME.validate_json(text)
    except ValidationError as exc:
        raise FrameError(exc.errors(include_url=False)[0]["msg"]) from exc


_MEDIA_HEADS = ('{"event":"media",', '{"event": "media",')
_MARK_HEADS = ('{"event":"mark",', '{"event": "mark",')


def _sliced(raw: str, key: str) -> str | None:
    # with no backslash in the text every `"` opens or closes a string, so `"key":"` can only
    # be that key followed by its string value; a key given twice goes the parser's way
    if not raw.endswith("}") or "\\" in raw:
        return None
    for spelling in (f'"{key}":"', f'"{key}": "'):
        at = raw.find(spelling)
        if at >= 0:
            break
    else:
        return None
    if raw.count(f'"{key}"') != 1:
        return None
    start = at + len(spelling)
    end = raw.find('"', start)
    return raw[start:end] if end >= 0 else None


def caller_audio(raw: str) -> str | None:
    """The payload of a `media` frame of the caller's track (its JSON starting with the event,
    as Twilio's does), read by slicing instead of parsing: the bridge's hottest path. None for
    anything else, which `parse` then reads. The slice trusts the provider's layout (the
    stream is authenticated by path secret and token) and checks the rest: no escapes, one
    payload, the caller's track."""
    if not raw.startswith(_MEDIA_HEADS):
        return None
    # "inbound" or "inbound_track", compact or spaced
    if '"track":"inbound' not in raw and '"track": "inbound' not in raw:
        return None
    return _sliced(raw, "payload")


def mark_echo(raw: str) -> str | None:
    """The name in a `mark` echo, sliced as `caller_audio` does; None: use `parse`."""
    return _sliced(raw, "name") if raw.startswith(_MARK_HEADS) else None


def plain(text: str) -> bool:
    """Whether `text` can sit between JSON quotes as is (true of any base64 payload), which
    lets the per-frame messages skip the JSON encoder."""
    return text.isascii() and '"' not in text and "\\" not in text and text.isprintable()


def media(stream_sid: str, payload: str) -> str:
    if plain(payload) and plain(stream_sid):
        return f'{{"event":"media","streamSid":"{stream_sid}","media":{{"payload":"{payload}"}}}}'
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark(stream_sid: str, name: str) -> str:
    if plain(name) and plain(stream_sid):
        return f'{{"event":"mark","streamSid":"{stream_sid}","mark":{{"name":"{name}"}}}}'
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


@dataclass(frozen=True)
class AudioFormat:
    """One way audio travels: the provider's encoding and what OpenAI calls it."""

    name: str
    openai: dict[str, Any]
    bytes_per_ms: int
    swap16: bool = False
    """The provider's 16-bit samples are in the other byte order than OpenAI's."""

    def duration_ms(self, payload: str) -> float:
        """Milliseconds of audio in a base64 payload (computed from its length)."""
        return decoded_length(payload) / self.bytes_per_ms

    def to_openai(self, payload: str) -> str:
        """A provider media payload as OpenAI's `input_audio_buffer.append` audio."""
        return swap16(payload) if self.swap16 else payload

    def to_caller(self, delta: str) -> str:
        """An OpenAI audio delta as a provider media payload."""
        return swap16(delta) if self.swap16 else delta


PCMU = AudioFormat("pcmu", {"type": "audio/pcmu"}, 8)
PCM24K = AudioFormat("pcm24k", {"type": "audio/pcm", "rate": 24000}, 48)
"""L16 that arrives little-endian (BRIDGE_L16_BYTE_ORDER=little): passed through."""
L16_24K = AudioFormat("l16-24k", {"type": "audio/pcm", "rate": 24000}, 48, swap16=True)
"""L16 as RFC 3551 defines it (big-endian): swapped to and from OpenAI's little-endian."""


def audio_format(media_format: MediaFormat, *, l16_byte_order: str = "big") -> AudioFormat:
    encoding = media_format.encoding.lower()
    if media_format.channels != 1:
        raise UnsupportedFormat(f"{media_format.channels} channels (mono only)")
    if encoding in ("audio/x-mulaw", "audio/pcmu") and media_format.sampleRate == 8000:
        return PCMU
    if encoding in ("audio/x-l16", "audio/l16") and media_format.sampleRate == 24000:
        return L16_24K if l16_byte_order == "big" else PCM24K
    raise UnsupportedFormat(f"{media_format.encoding} at {media_format.sampleRate} Hz")


def swap16(payload: str) -> str:
    """A base64 payload of 16-bit samples with each sample's two bytes swapped (a trailing odd
    byte, which no 16-bit stream should carry, is kept as is)."""
    data = base64.b64decode(payload)
    even = len(data) & ~1
    samples = array("h", data[:even])
    samples.byteswap()
    return base64.b64encode(samples.tobytes() + data[even:]).decode("ascii")


def decoded_length(payload: str) -> int:
    """Bytes a base64 string decodes to, without decoding it."""
    padding = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    return len(payload) * 3 // 4 - padding
