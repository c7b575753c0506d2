"""One call, from the provider's WebSocket to its saved record.

    1. handshake   read frames until `start` (bounded by start_timeout_s)
    2. token       start.customParameters {callId, token} checked before anything else;
                   a bad or expired token closes the socket (1008) and nothing is recorded
    3. the call    claimed for this stream in the database (calls_stream_start, service role,
                   atomic): an unknown, terminal or finished call, or one whose stream already
                   started (on any machine), is closed (1008). A call streams once, so a
                   replayed webhook's fresh token gets nothing
    4. OpenAI      connect (GA, no beta header), session.update from the call's goal and
                   context, a greeting; then the Conversation until someone ends it
    5. the end     bridge-decided ends (end_call, time limit, shutdown) hang up through the
                   provider's REST API when configured; the socket is closed in every case,
                   which for OpenAI failures makes the provider speak the TwiML fallback
    6. the save    transcript, duration, outcome, summary -> calls_finish (retried), which
                   queues `call-ended`; then the event is published (worker.publish)

Every call that passed step 3 is saved, however it ends (a bug in the call's own code is
saved as `bridge_error`). A record calls_finish refuses for good (or past every retry) is kept
in calls_dead_letters with the error; only if that fails too is the whole record only logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from worker import prompt, telephony, token, wire
from worker import realtime_events as rt
from worker.config import BridgeConfig
from worker.conversation import Conversation, Stats
from worker.hangup import hang_up
from worker.publish import PusherHttp, publish_saved
from worker.recording import Recorder
from worker.recording_store import RecordingStore, recording_key
from worker.store import CallRecord, CallStore, FinishedCall, StoreError
from worker.summary import Summary, extractive, summarize
from worker.transcript import Transcript

log = logging.getLogger("worker.call")

CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BRIDGE_ENDED = {"end_call", "max_duration", "shutdown"}
OPENAI_MAX_SIZE = 16 * 2**20
SUMMARY_BUDGET_S = 15.0
UPLOAD_MARGIN_S = 5.0
REFUSED = "unknown, finished or already streaming call"


@dataclass(frozen=True)
class Services:
    """What every call shares; owned by the server."""

    config: BridgeConfig
    http: httpx.AsyncClient
    store: CallStore
    pusher: PusherHttp | None
    recordings: RecordingStore


class CallSession:
    def __init__(
        self,
        caller: ServerConnection,
        services: Services,
        active: dict[str, CallSession],
    ) -> None:
        self._caller = caller
        self._services = services
        self._config = services.config
        self._active = active
        self._conversation: Conversation | None = None
        self._end_reason: str | None = None
        self._recorder: Recorder | None = None
        self.call_id: str | None = None
        self.stream_id = uuid.uuid4().hex
        """This socket's claim on its call (calls_stream_start): a call streams once."""
        self.saved: bool | None = None
        """None until there is a call to save; then whether it was saved."""
        self.save_deadline: float | None = None
        """time.monotonic() by which the save must be done (set on shutdown)."""

    def request_end(self, reason: str) -> None:
        if self._conversation is not None:
            self._conversation.request_end(reason)
        else:
            self._end_reason = reason

    async def run(self) -> None:
        start = await self._handshake()
        if start is None:
            return
        params = start.start.customParameters
        call_id, stream_token = params.get("callId", ""), params.get("token", "")
        if not CALL_ID.fullmatch(call_id) or not token.verify(
            self._config.token_secret.get(), stream_token, call_id=call_id
        ):
            log.warning("stream refused: invalid token (call %r)", call_id[:40])
            await self._caller.close(1008, "invalid stream token")
            return
        if call_id in self._active:
            await self._caller.close(1008, REFUSED)
            return
        try:
            claim = await self._services.store.stream_start(call_id, self.stream_id)
        except StoreError as exc:
            log.error("call %s: cannot start the stream: %s", call_id, exc)
            await self._caller.close(1011, "calls unavailable")
            return
        record = claim.record
        if record is None:
            log.warning("stream refused: call %s is %s", call_id, claim.refused)
            await self._caller.close(1008, REFUSED)
            return
        self.call_id = call_id
        self._active[call_id] = self
        try:
            await self._converse(record, start.start)
        finally:
            del self._active[call_id]

    async def _handshake(self) -> telephony.Start | None:
        try:
            async with asyncio.timeout(self._config.start_timeout_s):
                async for raw in self._caller:
                    if isinstance(raw, bytes) or len(raw) > self._config.max_frame_bytes:
                        continue
                    try:
                        frame = telephony.parse(raw)
                    except telephony.FrameError:
                        continue
                    if isinstance(frame, telephony.Start):
                        return frame
        except TimeoutError:
            await self._caller.close(1008, "no start message")
        except ConnectionClosed:
            pass
        return None

    async def _converse(self, record: CallRecord, start: telephony.StartInfo) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        transcript, stats = Transcript(), Stats()
        reason = "bridge_error"
        try:
            reason = await self._talk(record, start, transcript, stats)
        except Exception:  # the boundary of one call: its record is still saved
            log.exception("call %s: the bridge failed", record.id)
        finally:
            conversation = self._conversation
            if reason in BRIDGE_ENDED:
                await hang_up(self._config, self._services.http, start.callSid)
            await self._caller.close(1000, reason)
            await self._save(
                FinishedCall(
                    call_id=record.id,
                    transcript=transcript.as_json(),
                    outcome=conversation.outcome if conversation else None,
                    outcome_notes=conversation.notes if conversation else None,
                    summary="",
                    end_reason=reason,
                    started_at=started_at,
                    ended_at=datetime.now(UTC),
                    stats={**stats.as_json(), "streamS": round(time.monotonic() - started, 3)},
                ),
                record,
                transcript,
            )

    async def _talk(
        self, record: CallRecord, start: telephony.StartInfo, transcript: Transcript, stats: Stats
    ) -> str:
        try:
            audio = telephony.audio_format(
                start.mediaFormat, l16_byte_order=self._config.l16_byte_order
            )
        except telephony.UnsupportedFormat as exc:
            log.error("call %s: unsupported audio: %s", record.id, exc)
            return "unsupported_audio"
        self._recorder = Recorder(audio, enabled=self._config.recording_off is None)
        try:
            openai = await self._connect_openai()
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            log.error("call %s: OpenAI unavailable: %r", record.id, exc)
            stats.openai_errors.append({"type": "connect", "message": repr(exc)[:300]})
            return "openai_unavailable"
        try:
            conversation = Conversation(
                caller=self._caller,
                openai=openai,
                stream_sid=start.streamSid,
                audio=audio,
                config=self._config,
                transcript=transcript,
                stats=stats,
                label=f"call {record.id}",
                recorder=self._recorder,
            )
            self._conversation = conversation
            if self._end_reason is not None:
                conversation.request_end(self._end_reason)
            try:
                await openai.send(self._session_update(record, audio))
                await openai.send(rt.message("user", prompt.GREETING))
                await openai.send(rt.response_create())
            except ConnectionClosed:
                return "openai_disconnected"
            return await conversation.run()
        finally:
            await openai.close()

    async def _connect_openai(self) -> ClientConnection:
        key = self._config.openai_api_key.get() or "local"
        return await connect(
            self._config.openai_url,
            additional_headers={"Authorization": f"Bearer {key}"},
            open_timeout=10,
            close_timeout=2,
            max_size=OPENAI_MAX_SIZE,
            compression=None,
            proxy=None,
            create_connection=wire.InterceptingClientConnection,
        )

    def _session_update(self, record: CallRecord, audio: telephony.AudioFormat) -> str:
        config = self._config
        return rt.session_update(
            model=config.openai_model,
            instructions=prompt.instructions(
                goal=record.goal, context=record.context, direction=record.direction
            ),
            audio_format=audio.openai,
            voice=config.openai_voice,
            transcription_model=config.openai_transcription_model,
            silence_ms=config.vad_silence_ms,
            tools=prompt.TOOLS,
        )

    async def _summary(
        self, finished: FinishedCall, record: CallRecord, transcript: Transcript
    ) -> Summary:
        entries = transcript.entries()
        budget = SUMMARY_BUDGET_S
        if self.save_deadline is not None:
            budget = min(budget, max(0.0, self.save_deadline - time.monotonic() - 2.0))
        try:
            async with asyncio.timeout(budget):
                return await summarize(
                    entries,
                    goal=record.goal,
                    outcome=finished.outcome,
                    notes=finished.outcome_notes,
                    config=self._config,
                    http=self._services.http,
                )
        except TimeoutError:
            text = extractive(
                entries, goal=record.goal, outcome=finished.outcome, notes=finished.outcome_notes
            )
            return Summary(text, "extractive")

    async def _save(
        self, finished: FinishedCall, record: CallRecord, transcript: Transcript
    ) -> None:
        async with asyncio.TaskGroup() as group:
            summarizing = group.create_task(
                self._summary(finished, record, transcript), name=f"call {record.id} summary"
            )
            uploading = group.create_task(
                self._record_audio(record), name=f"call {record.id} recording"
            )
        summary = summarizing.result()
        finished = replace(
            finished,
            summary=summary.text,
            summary_kind=summary.kind,
            recording=uploading.result(),
        )
        store = self._services.store
        try:
            result = await store.finish(
                finished, attempts=self._config.save_attempts, deadline=self.save_deadline
            )
        except StoreError as exc:
            self.saved = False
            await self._dead_letter(finished, exc)
            return
        self.saved = True
        log.info("call %s saved (%s)", record.id, finished.end_reason)
        await publish_saved(
            result.get("events") or [], pusher=self._services.pusher, store=self._services.store
        )

    async def _record_audio(self, record: CallRecord) -> dict[str, Any]:
        """The call's WAV, uploaded (retried like the record); what the record says of it.
        Never raises: a recording that cannot be stored is noted, and the record is saved."""
        off = self._config.recording_off
        recorder = self._recorder
        if off is not None:
            return {"status": "off", "error": off}
        if recorder is None or recorder.empty:
            return {"status": "empty", "error": "no audio was streamed"}
        deadline = self.save_deadline
        if deadline is not None:  # leave the record time to be saved after the upload
            deadline -= UPLOAD_MARGIN_S
        key = recording_key(record.owner_id, record.id)
        try:
            recording = await asyncio.to_thread(recorder.assemble)
            await self._services.recordings.upload(
                key, recording.wav, attempts=self._config.save_attempts, deadline=deadline
            )
        except StoreError as exc:
            log.error("call %s: recording not stored: %s", record.id, exc)
            return {"status": "failed", "error": str(exc)[:1000]}
        except Exception as exc:  # a bug in assembling loses the audio, never the record
            log.exception("call %s: recording failed", record.id)
            return {"status": "failed", "error": repr(exc)[:1000]}
        return {
            "status": "stored",
            "key": key,
            "durationMs": recording.duration_ms,
            "sampleRate": recording.sample_rate,
            "bytes": len(recording.wav),
        }

    async def _dead_letter(self, finished: FinishedCall, refusal: StoreError) -> None:
        """Keep a record calls_finish would not take (calls_dead_letters); the log gets the
        whole record only if even that fails."""
        try:
            letter = await self._services.store.dead_letter(
                finished, str(refusal), attempts=3, deadline=self.save_deadline
            )
        except StoreError as exc:
            log.error(
                "call %s NOT SAVED: %s; dead letter failed too: %s; record: %s",
                finished.call_id,
                refusal,
                exc,
                _record(finished),
            )
            return
        log.error(
            "call %s NOT SAVED: %s; kept as dead letter %d", finished.call_id, refusal, letter
        )


def _record(finished: FinishedCall) -> str:
    return json.dumps(finished.params(), default=str)
