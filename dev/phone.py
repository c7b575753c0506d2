"""A telephony simulator that does what Twilio / SignalWire do on a call's media stream, for the
tests, the benchmarks and `python -m dev.call`.

    async with Phone.call(media_url, call_id=..., token=...) as phone:
        await phone.wait_heard(500)          # the greeting is playing
        await phone.say(speech("hi").audio)  # real-time pace, 20 ms frames
        await phone.wait_quiet()             # the reply has played out
    # leaving the block hangs up (`stop`, then close)

Like the provider, it sends `connected` and `start` (the TwiML `<Parameter>`s as
`customParameters`), then one 20 ms `media` frame every 20 ms for the whole call (silence
between utterances, `timestamp` = ms since the stream began); it plays what it receives at
real-time pace, echoing each `mark` once the audio queued before it has played, and on `clear`
drops the queued audio and echoes every pending mark at once. Everything it plays is kept
(`heard`), with the marks it echoed and the clears it honoured.
L16 (`pcm24k`) travels as the provider sends it, big-endian (network byte order, RFC 3551):
the phone swaps what it says (dev.speech makes little-endian PCM) and what it hears, so `heard`
is little-endian PCM again and `wire_in` / `wire_out` keep the bytes as they were on the wire.
Also here, the other half of the provider: reading TwiML (`stream_of`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dev.speech import BYTES_PER_MS, Encoding, silence, swap16

FRAME_MS = 20
FORMATS: dict[Encoding, dict[str, Any]] = {
    "pcmu": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    "pcm24k": {"encoding": "audio/x-L16", "sampleRate": 24000, "channels": 1},
}


def stream_of(twiml: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(stream URL, its <Parameter>s, the <Stream> attributes) of a TwiML answer."""
    root = ET.fromstring(twiml)  # noqa: S314 - our own api's answer, in tests
    stream = root.find("./Connect/Stream")
    if stream is None:
        raise ValueError(f"no <Connect><Stream> in {twiml!r}")
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params, dict(stream.attrib)


@dataclass(frozen=True)
class Clear:
    heard_ms: float
    """What had played when the clear arrived."""
    dropped_ms: float
    """Queued audio the clear threw away."""
    echoes_before: int
    """How many marks had been echoed (as played) before it."""


@dataclass
class _Speaker:
    queue: deque[bytes | str] = field(default_factory=deque)
    """Audio chunks and mark names, in arrival order."""
    queued_bytes: int = 0


class Phone:
    def __init__(
        self,
        ws: ClientConnection,
        *,
        encoding: Encoding,
        on_media: Callable[[bytes, int], None] | None = None,
    ) -> None:
        self.ws = ws
        self.encoding = encoding
        self.stream_sid = f"MZ{uuid.uuid4().hex}"
        self.call_sid = f"CA{uuid.uuid4().hex}"
        self._frame_bytes = FRAME_MS * BYTES_PER_MS[encoding]
        self._silence = silence(FRAME_MS, encoding)
        self._sequence = itertools.count(1)
        self._chunk = itertools.count(1)
        self._mic: deque[bytes] = deque()
        self._mic_done: list[tuple[int, asyncio.Future[None]]] = []
        self._frames_sent = 0
        self._speaker = _Speaker()
        self._on_media = on_media
        self.heard = bytearray()
        self._on_wire = swap16 if encoding == "pcm24k" else bytes
        """PCM <-> what the provider sends (L16 is big-endian; μ-law has no byte order)."""
        self.wire_in = bytearray()
        """Every media payload received, as it was on the wire."""
        self.wire_out = bytearray()
        """Every media payload sent, as it was on the wire."""
        self.received_bytes = 0
        self.marks_echoed: list[tuple[str, float]] = []
        """(mark name, ms heard when it was echoed)"""
        self.clears: list[Clear] = []
        self.unexpected: list[str] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self._tick = asyncio.Event()
        self._started = 0.0
        self._pending_marks: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def call(
        cls,
        media_url: str,
        *,
        call_id: str = "",
        token: str = "",
        parameters: dict[str, str] | None = None,
        encoding: Encoding = "pcmu",
        media_format: dict[str, Any] | None = None,
        on_media: Callable[[bytes, int], None] | None = None,
    ) -> AsyncIterator[Phone]:
        """`media_format` overrides what `start` announces (default: the encoding's)."""
        params = {"callId": call_id, "token": token} if parameters is None else parameters
        async with connect(media_url, open_timeout=10, close_timeout=2, compression=None) as ws:
            phone = cls(ws, encoding=encoding, on_media=on_media)
            await phone._begin(params, media_format or FORMATS[encoding])
            failure: BaseException | None = None
            async with asyncio.TaskGroup() as group:
                group.create_task(phone._receive(), name=f"phone {phone.call_sid} receive")
                group.create_task(phone._clock(), name=f"phone {phone.call_sid} clock")
                try:
                    yield phone
                except BaseException as exc:  # re-raised below, outside the TaskGroup
                    failure = exc
                finally:
                    await phone.hang_up()
            if failure is not None:
                raise failure

    async def _send(self, message: dict[str, Any]) -> None:
        message.setdefault("streamSid", self.stream_sid)
        message["sequenceNumber"] = str(next(self._sequence))
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(message))

    async def _begin(self, params: dict[str, str], media_format: dict[str, Any]) -> None:
        await self.ws.send(
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        start = {
            "accountSid": "AC" + "0" * 32,
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "customParameters": params,
            "mediaFormat": media_format,
        }
        await self._send({"event": "start", "start": start})
        self._started = time.monotonic()

    async def hang_up(self) -> None:
        """What the provider does when the caller hangs up: `stop`, then close."""
        if self.close_code is None:
            stop = {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid}
            await self._send({"event": "stop", "stop": stop})
        await self.ws.close()

    async def send_raw(self, message: str | bytes) -> None:
        """Send anything (malformed, oversized, binary) as the provider never would."""
        await self.ws.send(message)

    # -- microphone ---------------------------------------------------------------------

    def speak(self, audio: bytes) -> asyncio.Future[None]:
        """Queue `audio` for the microphone; the future completes when it has all been sent."""
        for start in range(0, len(audio), self._frame_bytes):
            frame = audio[start : start + self._frame_bytes]
            self._mic.append(frame.ljust(self._frame_bytes, self._silence[:1]))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._mic_done.append((self._frames_sent + len(self._mic), done))
        return done

    async def say(self, audio: bytes, *, within_s: float = 30.0) -> None:
        async with asyncio.timeout(within_s):
            await self.speak(audio)

    async def _clock(self) -> None:
        """Every 20 ms: one microphone frame out, 20 ms of what was received played."""
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for tick in itertools.count(1):
            if self.close_code is not None:
                return
            frame = self._on_wire(self._mic.popleft() if self._mic else self._silence)
            self.wire_out += frame
            media = {
                "track": "inbound",
                "chunk": str(next(self._chunk)),
                "timestamp": str(tick * FRAME_MS),
                "payload": base64.b64encode(frame).decode(),
            }
            await self._send({"event": "media", "media": media})
            self._frames_sent += 1
            while self._mic_done and self._mic_done[0][0] <= self._frames_sent:
                self._mic_done.pop(0)[1].set_result(None)
            await self._play(self._frame_bytes)
            self._changed()
            await asyncio.sleep(max(0.0, begin + tick * FRAME_MS / 1000 - loop.time()))

    # -- speaker -------------------------------------------------------------------------

    async def _play(self, budget: int) -> None:
        speaker = self._speaker
        while speaker.queue:
            head = speaker.queue[0]
            if isinstance(head, str):
                speaker.queue.popleft()
                await self._echo(head)
                continue
            if budget == 0:
                return
            take = head[:budget]
            self.heard += take
            budget -= len(take)
            speaker.queued_bytes -= len(take)
            if len(take) == len(head):
                speaker.queue.popleft()
            else:
                speaker.queue[0] = head[len(take) :]

    async def _echo(self, name: str) -> None:
        self.marks_echoed.append((name, self.heard_ms))
        await self._send({"event": "mark", "mark": {"name": name}})

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                self._on_message(raw)
                if self._pending_marks:
                    marks, self._pending_marks = self._pending_marks, []
                    for name in marks:
                        await self._echo(name)
                self._changed()
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code if self.ws.close_code is not None else 1006
        self.close_reason = self.ws.close_reason or ""
        self._changed()

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            event = message["event"]
        except (ValueError, KeyError, TypeError):
            self.unexpected.append(str(raw)[:200])
            return
        speaker = self._speaker
        if event == "media":
            wire = base64.b64decode(message["media"]["payload"])
            self.wire_in += wire
            audio = self._on_wire(wire)
            self.received_bytes += len(audio)
            speaker.queue.append(audio)
            speaker.queued_bytes += len(audio)
            if self._on_media is not None:
                self._on_media(audio, time.perf_counter_ns())
        elif event == "mark":
            speaker.queue.append(str(message["mark"]["name"]))
        elif event == "clear":
            dropped = speaker.queued_bytes / BYTES_PER_MS[self.encoding]
            self.clears.append(Clear(self.heard_ms, dropped, len(self.marks_echoed)))
            marks = [item for item in speaker.queue if isinstance(item, str)]
            speaker.queue.clear()
            speaker.queued_bytes = 0
            self._pending_marks = [*self._pending_marks, *marks]
        else:
            self.unexpected.append(str(raw)[:200])

    # -- observations --------------------------------------------------------------------

    @property
    def heard_ms(self) -> float:
        return len(self.heard) / BYTES_PER_MS[self.encoding]

    @property
    def received_ms(self) -> float:
        return self.received_bytes / BYTES_PER_MS[self.encoding]

    @property
    def playing(self) -> bool:
        return bool(self._speaker.queue)

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def _changed(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def wait_until(self, predicate: Callable[[], bool], within_s: float = 15.0) -> None:
        async with asyncio.timeout(within_s):
            while not predicate():
                await self._tick.wait()

    async def wait_heard(self, ms: float, *, within_s: float = 15.0) -> None:
        """Until at least `ms` of audio has played since the call began."""
        await self.wait_until(lambda: self.heard_ms >= ms, within_s)

    async def wait_quiet(self, *, within_s: float = 15.0) -> None:
        """Until something was received and everything received has played."""
        await self.wait_until(lambda: self.received_bytes > 0 and not self.playing, within_s)

    async def wait_closed(self, *, within_s: float = 15.0) -> tuple[int, str]:
        await self.wait_until(lambda: self.closed, within_s)
        assert self.close_code is not None
        return self.close_code, self.close_reason
