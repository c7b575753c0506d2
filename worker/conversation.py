"""The live phase of one call: caller audio to OpenAI, OpenAI audio to the caller.

Three tasks, named and owned by one TaskGroup; the first to decide the call is over raises
`Hangup(reason)`, which cancels the others:

    caller      telephony frames: media -> input_audio_buffer.append (μ-law as is, L16 byte-
                swapped to little-endian: telephony.AudioFormat; one append per frame, or per
                BRIDGE_APPEND_MS of audio: worker.appends), mark
                echoes -> Playback, dtmf -> stats, stop -> Hangup("caller_hangup"). Binary,
                oversized (> max_frame_bytes) and malformed frames are dropped and counted.
    openai      server events: audio deltas -> media + mark to the caller as they arrive;
                speech_started -> barge-in (clear + truncate at what was heard); transcripts;
                tool calls (answered after their response is done); errors.
    supervisor  waits for an end request (end_call, shutdown) or the call's time limit; for the
                time limit and shutdown it asks the model for a goodbye; then waits (bounded by
                goodbye_timeout_s) until the goodbye has been generated and heard.

`invalid_request_error` events are recorded and the call goes on (they answer something we
sent, e.g. a truncate the server found too long); any other OpenAI error, or the OpenAI socket
closing, ends the call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from worker import prompt, realtime_events, telephony, wire
from worker import realtime_events as rt
from worker.appends import Appends
from worker.config import BridgeConfig
from worker.playback import Playback
from worker.recording import Recorder
from worker.transcript import Transcript

log = logging.getLogger("worker.call")

INBOUND = ("inbound", "inbound_track")
"""The tracks that are the caller's voice."""
HOT_CALLER = ('{"event":"media"', '{"event": "media"', '{"event":"mark"', '{"event": "mark"')
"""Frames worth taking on arrival (Twilio's compact JSON, or spaced)."""


class Hangup(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Stats:
    frames_in: int = 0
    media_in: int = 0
    media_out: int = 0
    marks_heard: int = 0
    stale_marks: int = 0
    dropped_binary: int = 0
    dropped_oversized: int = 0
    dropped_malformed: int = 0
    truncations: int = 0
    openai_malformed: int = 0
    dtmf: list[str] = field(default_factory=list)
    openai_errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            key: value if not isinstance(value, list) else value[:50]
            for key, value in self.__dict__.items()
        }


class Conversation:
    def __init__(
        self,
        *,
        caller: ServerConnection,
        openai: ClientConnection,
        stream_sid: str,
        audio: telephony.AudioFormat,
        config: BridgeConfig,
        transcript: Transcript,
        stats: Stats,
        label: str,
        recorder: Recorder | None = None,
    ) -> None:
        self._caller = caller
        self._openai = openai
        self._sid = stream_sid
        self._audio = audio
        self._config = config
        self.transcript = transcript
        self.stats = stats
        self._label = label
        self.recorder = recorder or Recorder(None, enabled=False)
        self._record = self.recorder.heard
        """The one call per inbound frame the recording costs (worker/recording.py)."""
        self.playback = Playback(mark_every_ms=config.mark_every_ms)
        self._appends = Appends(audio, config.append_ms)
        self.outcome: str | None = None
        self.notes: str | None = None
        self.ending: str | None = None
        """Why the call is being ended, once the bridge has decided to end it."""
        self._end_requests: asyncio.Queue[str] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._active_response: str | None = None
        self._tool_outputs: list[str] = []
        self._end_call_asked = False
        self._awaiting_goodbye = False
        self._goodbye_response: str | None = None
        self._goodbye_done = asyncio.Event()
        self._partial: dict[str, str] = {}
        """Assistant transcript deltas of items whose `.done` has not come (yet)."""

    def request_end(self, reason: str) -> None:
        """End the call politely (from outside: shutdown)."""
        self._end_requests.put_nowait(reason)

    async def run(self) -> str:
        """Talk until the call ends; returns why it ended."""
        reason: str | None = None
        self._intercept(True)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._from_caller(), name=f"{self._label} caller")
                group.create_task(self._from_openai(), name=f"{self._label} openai")
                group.create_task(self._supervise(), name=f"{self._label} supervisor")
        except* Hangup as hangups:
            first = hangups.exceptions[0]
            reason = first.reason if isinstance(first, Hangup) else "bridge_error"
        finally:
            self._intercept(False)
            self._keep_partial_transcripts()
        if reason is None:
            raise AssertionError("the call's tasks ended without a hang-up")
        return self.ending or reason

    def _intercept(self, on: bool) -> None:
        """Audio both ways and mark echoes are handled as they arrive (worker/wire.py) while
        the call's tasks run; before and after, every message waits in its queue."""
        if isinstance(self._caller, wire.CoalescingConnection):
            self._caller.intercept = self._caller_now if on else None
        if isinstance(self._openai, wire.InterceptingClientConnection):
            self._openai.intercept = self._openai_now if on else None

    # -- sending -------------------------------------------------------------------------

    async def _to_caller(self, *texts: str) -> None:
        try:
            await wire.send_texts(self._caller, texts)
        except ConnectionClosed as exc:
            raise Hangup("telephony_closed") from exc

    async def _to_openai(self, text: str) -> None:
        try:
            await wire.send_texts(self._openai, (text,))
        except ConnectionClosed as exc:
            raise Hangup("openai_disconnected") from exc

    # -- caller -> openai -----------------------------------------------------------------

    async def _from_caller(self) -> None:
        limit = self._config.max_frame_bytes
        stats = self.stats
        try:
            async for raw in self._caller:
                stats.frames_in += 1
                if isinstance(raw, bytes):
                    stats.dropped_binary += 1
                    continue
                if len(raw) > limit:
                    stats.dropped_oversized += 1
                    continue
                try:
                    frame = telephony.parse(raw)
                except telephony.FrameError:
                    stats.dropped_malformed += 1
                    continue
                await self._on_frame(frame)
        except ConnectionClosed:
            pass
        raise Hangup("telephony_closed")

    async def _on_frame(self, frame: telephony.Frame) -> None:
        match frame:
            case telephony.Media(media=media) if media.track in INBOUND:
                append = self._inbound(media.payload)
                if append is not None:
                    await self._to_openai(append)
            case telephony.Mark(mark=mark):
                self._heard(mark.name)
            case telephony.Dtmf(dtmf=dtmf):
                self.stats.dtmf.append(dtmf.digit[:1])
            case telephony.Stop():
                raise Hangup("caller_hangup")
            case _:
                pass

    def _inbound(self, payload: str) -> str | None:
        """A frame of the caller's audio: the append to send OpenAI now, if one is due."""
        self.stats.media_in += 1
        self._record(payload)
        audio = self._appends.add(self._audio.to_openai(payload))
        return None if audio is None else rt.append_audio(audio)

    def _heard(self, mark: str) -> None:
        """A mark echo: the caller has heard the audio up to it."""
        if self.playback.acknowledge(mark):
            self.stats.marks_heard += 1
            if not self.playback.playing:
                self._idle.set()
        else:
            self.stats.stale_marks += 1

    def _caller_now(self, raw: str) -> bool:
        """wire.Interceptor for the caller's socket: audio and mark echoes, taken on arrival
        (the rest, and audio when OpenAI's socket is not ready, goes the queue's way). The
        provider's compact frames are sliced, not parsed (telephony.caller_audio)."""
        if not raw.startswith(HOT_CALLER) or len(raw) > self._config.max_frame_bytes:
            return False
        payload = telephony.caller_audio(raw)
        name = None if payload is not None else telephony.mark_echo(raw)
        if payload is None and name is None:
            try:
                frame = telephony.parse(raw)
            except telephony.FrameError:
                return False
            if isinstance(frame, telephony.Media) and frame.media.track in INBOUND:
                payload = frame.media.payload
            elif isinstance(frame, telephony.Mark):
                name = frame.mark.name
            else:
                return False
        if name is not None:
            self.stats.frames_in += 1
            self._heard(name)
            return True
        assert payload is not None
        if not wire.ready(self._openai):
            return False
        self.stats.frames_in += 1
        append = self._inbound(payload)
        if append is not None:
            wire.send_now(self._openai, (append,))
        return True

    # -- openai -> caller -----------------------------------------------------------------

    def _openai_now(self, raw: str) -> bool:
        """wire.Interceptor for OpenAI's socket: audio deltas, played on arrival when the
        caller's socket is ready (everything else goes the queue's way)."""
        if not raw.startswith(rt.AUDIO_DELTA_PREFIXES) or not wire.ready(self._caller):
            return False
        sliced = rt.audio_delta(raw)
        if sliced is None:
            try:
                event = realtime_events.parse(raw)
            except realtime_events.EventError:
                return False
            if not isinstance(event, rt.AudioDelta):
                return False
            sliced = event.item_id, event.delta
        texts = self._outbound(*sliced)
        if texts:
            wire.send_now(self._caller, texts)
        return True

    async def _from_openai(self) -> None:
        try:
            async for raw in self._openai:
                try:
                    event = realtime_events.parse(raw)
                except realtime_events.EventError:
                    self.stats.openai_malformed += 1
                    continue
                await self._on_event(event)
        except ConnectionClosed as exc:
            self.stats.openai_errors.append(
                {"type": "disconnected", "code": exc.rcvd.code if exc.rcvd else None}
            )
            raise Hangup("openai_disconnected") from exc
        self.stats.openai_errors.append({"type": "disconnected", "code": 1000})
        raise Hangup("openai_disconnected")

    async def _on_event(self, event: rt.ServerEvent) -> None:
        match event:
            case rt.AudioDelta():
                await self._play(event)
            case rt.SpeechStarted():
                self.transcript.began(event.item_id)
                await self._barge_in()
            case rt.InputTranscript():
                self.transcript.add("caller", event.transcript, item_id=event.item_id)
            case rt.AudioTranscriptDelta():
                self._partial[event.item_id] = self._partial.get(event.item_id, "") + event.delta
            case rt.AudioTranscriptDone():
                self._partial.pop(event.item_id, None)
                self.transcript.add("assistant", event.transcript, item_id=event.item_id)
            case rt.ResponseCreated():
                self._active_response = event.response.id
                if self._awaiting_goodbye and self._goodbye_response is None:
                    self._goodbye_response = event.response.id
            case rt.FunctionCall():
                self._tool_outputs.append(rt.function_output(event.call_id, self._tool(event)))
            case rt.ResponseDone():
                await self._response_done(event.response.id)
            case rt.Error(error=error):
                self.stats.openai_errors.append(error.model_dump())
                log.warning("%s: OpenAI error %s: %s", self._label, error.type, error.message)
                if error.type != "invalid_request_error":
                    raise Hangup("openai_error")
            case _:
                pass

    async def _play(self, delta: rt.AudioDelta) -> None:
        texts = self._outbound(delta.item_id, delta.delta)
        if texts:
            await self._to_caller(*texts)

    def _outbound(self, item_id: str, audio: str) -> tuple[str, ...]:
        """What an audio delta sends the caller: its media, and a mark when one is due (one
        socket write for both: worker/wire.py); nothing for a late chunk of cut audio."""
        if self.playback.is_cut(item_id):
            return ()  # a late chunk of audio the caller interrupted
        self.transcript.began(item_id)
        mark = self.playback.sent(item_id, self._audio.duration_ms(audio))
        self._idle.clear()
        self.stats.media_out += 1
        payload = self._audio.to_caller(audio)
        self.recorder.said(payload)
        media = telephony.media(self._sid, payload)
        return (media,) if mark is None else (media, telephony.mark(self._sid, mark))

    async def _barge_in(self) -> None:
        if not self.playback.playing:
            return
        cuts = self.playback.interrupt()
        self._idle.set()
        await self._to_caller(telephony.clear(self._sid))
        self.recorder.cleared()
        for cut in cuts:
            self.stats.truncations += 1
            self.transcript.interrupted(cut.item_id)
            await self._to_openai(rt.truncate(cut.item_id, cut.audio_end_ms))

    def _tool(self, call: rt.FunctionCall) -> dict[str, Any]:
        args = prompt.parse_arguments(call.arguments)
        if call.name == "record_outcome":
            outcome = args.get("outcome")
            if outcome not in prompt.OUTCOMES:
                return {"ok": False, "error": f"outcome is one of {', '.join(prompt.OUTCOMES)}"}
            self.outcome = str(outcome)
            notes = str(args.get("notes") or "").strip()
            self.notes = notes[:2000] or self.notes
            return {"ok": True}
        if call.name == "end_call":
            self._end_call_asked = True
            return {"ok": True, "instruction": prompt.GOODBYE_AFTER_END_CALL}
        return {"ok": False, "error": f"there is no tool named {call.name!r}"}

    def _keep_partial_transcripts(self) -> None:
        """A response cut short (or a call ended mid-reply) may never get its transcript's
        `.done`: keep what had been said."""
        for item_id, text in self._partial.items():
            self.transcript.add("assistant", text, item_id=item_id)
        self._partial.clear()

    async def _response_done(self, response_id: str) -> None:
        self._keep_partial_transcripts()
        mark = self.playback.mark()  # the response's last audio: know when it has played
        if mark is not None:
            await self._to_caller(telephony.mark(self._sid, mark))
        if self._active_response == response_id:
            self._active_response = None
        if self._goodbye_response == response_id:
            self._goodbye_done.set()
        if not self._tool_outputs:
            return
        outputs, self._tool_outputs = self._tool_outputs, []
        for output in outputs:
            await self._to_openai(output)
        if self._end_call_asked and not self._awaiting_goodbye:
            self._awaiting_goodbye = True
            self.request_end("end_call")
        await self._to_openai(rt.response_create())

    # -- ending ----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            async with asyncio.timeout(self._config.max_call_s):
                reason = await self._end_requests.get()
        except TimeoutError:
            reason = "max_duration"
        self.ending = reason
        log.info("%s: ending (%s)", self._label, reason)
        if reason in prompt.GOODBYES:
            await self._ask_goodbye(reason)
        try:
            async with asyncio.timeout(self._config.goodbye_timeout_s):
                await self._goodbye_done.wait()
                await self._idle.wait()
        except TimeoutError:
            log.warning("%s: goodbye not heard in time", self._label)
        raise Hangup(reason)

    async def _ask_goodbye(self, reason: str) -> None:
        self._awaiting_goodbye = True
        if self._active_response is not None:
            await self._to_openai(rt.response_cancel())
            await self._barge_in()
        await self._to_openai(rt.message("system", prompt.GOODBYES[reason]))
        await self._to_openai(rt.response_create())
