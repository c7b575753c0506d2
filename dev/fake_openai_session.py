"""One connection to the fake OpenAI Realtime server (dev/fake_openai.py): the session, the
energy VAD, scripted transcripts, responses with tool calls, truncation checks, and what the
tests inspect afterwards (`FakeSession`)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection

from dev.speech import Encoding, mean_level, tone

if TYPE_CHECKING:
    from dev.fake_openai import FakeOpenAI

DEFAULT_SCRIPT = (
    "Hi, I would like to book a table for two tomorrow at seven.",
    "Yes, that works for me.",
    "No, that's all. Thank you, goodbye!",
)
TRIGGERS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("not interested", "record_outcome", {"outcome": "not_interested"}),
    ("call me back", "record_outcome", {"outcome": "callback_requested"}),
    ("works for me", "record_outcome", {"outcome": "goal_achieved"}),
    ("goodbye", "end_call", {}),
)
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


@dataclass
class Behaviour:
    script: tuple[str, ...] = DEFAULT_SCRIPT
    """What the caller 'said', turn by turn (the last line repeats)."""
    greeting: str = "Hello! This is the assistant at Sockless Bistro. How can I help you today?"
    ms_per_word: int = 150
    long_reply_ms: int = 8000
    speed: float = 4.0
    """Audio is generated this many times faster than real time (0: as fast as possible)."""
    chunk_ms: int = 100
    threshold: float = 500.0
    """Mean absolute sample level above which a 20 ms window is speech."""
    min_speech_ms: int = 60


@dataclass
class FakeSession:
    """One connection, as the tests inspect it."""

    headers: dict[str, str]
    session: dict[str, Any] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    """Types of the events sent, in order."""
    truncates: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    generated_ms: dict[str, float] = field(default_factory=dict)
    transcripts: list[str] = field(default_factory=list)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    audio_in: bytearray = field(default_factory=bytearray)
    """Every input_audio_buffer.append's audio, decoded, in order."""
    closed: bool = False


class Connection:
    def __init__(self, ws: ServerConnection, fake: FakeOpenAI, record: FakeSession) -> None:
        self.ws, self.fake, self.record = ws, fake, record
        self.behaviour = fake.behaviour
        self.encoding: Encoding = "pcmu"
        self.silence_ms, self.create_response, self.interrupt = 500, True, True
        self.input_ms = 0.0
        self.voiced_ms, self.quiet_ms = 0, 0
        self.speech_item: str | None = None
        self.buffer = b""
        self.turn = 0
        self.heard: list[str] = []
        self.pending_outputs: list[str] = []
        self.new_system_message = False
        self.active: str | None = None
        self.cancel = asyncio.Event()
        self.group: asyncio.TaskGroup | None = None

    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", _id("event"))
        self.record.sent.append(event["type"])
        await self.ws.send(json.dumps(event))
        self.fake.changed()

    async def error(self, message: str, *, code: str = "invalid_value") -> None:
        error = {"type": "invalid_request_error", "code": code, "message": message}
        self.record.errors.append(error)
        await self.send({"type": "error", "error": error})

    async def run(self) -> None:
        if "openai-beta" in self.record.headers:
            await self.ws.close(4000, "beta_api_shape_disabled")
            return
        await self.send({"type": "session.created", "session": {"id": _id("sess")}})
        async with asyncio.TaskGroup() as group:
            self.group = group
            async for raw in self.ws:
                try:
                    event = json.loads(raw)
                except ValueError:
                    await self.error("We could not parse the JSON body of your request.")
                    continue
                await self.on_event(event if isinstance(event, dict) else {})
            self.cancel.set()

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        self.record.received[kind] = self.record.received.get(kind, 0) + 1
        if kind == "session.update":
            await self.session_update(event.get("session") or {})
        elif kind == "input_audio_buffer.append":
            await self.append(base64.b64decode(event.get("audio", "")))
        elif kind == "conversation.item.create":
            item = event.get("item") or {}
            if item.get("type") == "function_call_output":
                self.pending_outputs.append(str(item.get("output", "")))
            elif item.get("role") == "system":
                self.new_system_message = True
            await self.send({"type": "conversation.item.done", "item": item})
        elif kind == "response.create":
            await self.start_response()
        elif kind == "response.cancel":
            self.cancel.set()
        elif kind == "conversation.item.truncate":
            await self.truncate(event)
        else:
            await self.error(f"Invalid value: '{kind}'. Unsupported event type.")
        self.fake.changed()

    async def session_update(self, session: dict[str, Any]) -> None:
        if session.get("type") != "realtime":
            await self.error("Missing required parameter: 'session.type'.", code="missing")
            return
        self.record.session = session
        audio_in = (session.get("audio") or {}).get("input") or {}
        fmt = (audio_in.get("format") or {}).get("type", "audio/pcmu")
        self.encoding = "pcm24k" if fmt == "audio/pcm" else "pcmu"
        vad = audio_in.get("turn_detection") or {}
        self.silence_ms = int(vad.get("silence_duration_ms", 500))
        self.create_response = bool(vad.get("create_response", True))
        self.interrupt = bool(vad.get("interrupt_response", True))
        await self.send({"type": "session.updated", "session": session})

    async def append(self, audio: bytes) -> None:
        window = 20 * (8 if self.encoding == "pcmu" else 48)
        self.record.audio_in += audio
        self.buffer += audio
        while len(self.buffer) >= window:
            frame, self.buffer = self.buffer[:window], self.buffer[window:]
            self.input_ms += 20
            await self.vad(mean_level(frame, self.encoding) > self.behaviour.threshold)

    async def vad(self, voiced: bool) -> None:
        if self.speech_item is None:
            self.voiced_ms = self.voiced_ms + 20 if voiced else 0
            if self.voiced_ms < self.behaviour.min_speech_ms:
                return
            self.speech_item, self.quiet_ms = _id("item"), 0
            start = int(self.input_ms - self.voiced_ms)
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": start,
                    "item_id": self.speech_item,
                }
            )
            if self.interrupt and self.active is not None:
                self.cancel.set()
            return
        self.quiet_ms = 0 if voiced else self.quiet_ms + 20
        if self.quiet_ms < self.silence_ms:
            return
        item, self.speech_item, self.voiced_ms = self.speech_item, None, 0
        end = int(self.input_ms)
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end, "item_id": item}
        )
        await self.send({"type": "input_audio_buffer.committed", "item_id": item})
        script = self.behaviour.script
        line = script[min(self.turn, len(script) - 1)]
        self.turn += 1
        self.heard.append(line)
        self.record.transcripts.append(line)
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item,
                "content_index": 0,
                "transcript": line,
            }
        )
        if self.create_response and self.active is None:
            await self.start_response(after_speech=True)

    async def start_response(self, *, after_speech: bool = False) -> None:
        if self.active is not None:
            await self.error(
                "Conversation already has an active response in progress.",
                code="conversation_already_has_active_response",
            )
            return
        assert self.group is not None
        self.active, self.cancel = _id("resp"), asyncio.Event()
        self.group.create_task(self.respond(self.active, after_speech), name=self.active)

    def reply(self, after_speech: bool) -> tuple[str, float, list[tuple[str, dict[str, str]]]]:
        """(text, audio ms, tool calls) for the next response."""
        if self.pending_outputs:
            ended = any("instruction" in output for output in self.pending_outputs)
            self.pending_outputs.clear()
            text = "Goodbye, have a lovely evening!" if ended else "Thank you, I have noted that."
        elif self.new_system_message:
            self.new_system_message = False
            text = "I am sorry, I have to end the call now. Goodbye!"
        elif after_speech and self.heard:
            said = self.heard[-1].lower()
            tools = [(name, args) for phrase, name, args in TRIGGERS if phrase in said]
            if tools:
                return "", 0.0, tools
            if "long story" in said:
                return "Let me tell you a long story. " * 6, self.behaviour.long_reply_ms, []
            text = f"I understand: {self.heard[-1]}"
        else:
            text = self.behaviour.greeting
        return text, max(600.0, len(text.split()) * self.behaviour.ms_per_word), []

    async def respond(self, response_id: str, after_speech: bool) -> None:
        text, audio_ms, tools = self.reply(after_speech)
        await self.send({"type": "response.created", "response": {"id": response_id}})
        status, output = "completed", []
        try:
            for name, args in tools:
                call_id = _id("call")
                arguments = json.dumps({**args, "notes": self.heard[-1]} if args else {})
                self.record.tool_calls.append((name, json.loads(arguments)))
                item = {"id": _id("item"), "type": "function_call", "name": name}
                output.append({**item, "call_id": call_id, "arguments": arguments})
                await self.send(
                    {
                        "type": "response.function_call_arguments.done",
                        "response_id": response_id,
                        "item_id": item["id"],
                        "call_id": call_id,
                        "name": name,
                        "arguments": arguments,
                    }
                )
            if text:
                status = await self.stream_audio(response_id, text, audio_ms, output)
        finally:
            self.active = None
        await self.send(
            {
                "type": "response.done",
                "response": {"id": response_id, "status": status, "output": output},
            }
        )

    async def stream_audio(
        self, response_id: str, text: str, audio_ms: float, output: list[dict[str, Any]]
    ) -> str:
        item = _id("item")
        output.append({"id": item, "type": "message", "role": "assistant"})
        behaviour, chunk = self.behaviour, self.behaviour.chunk_ms
        audio = base64.b64encode(tone(chunk, frequency=330.0, encoding=self.encoding)).decode()
        base = {"response_id": response_id, "item_id": item, "output_index": 0}
        await self.send({"type": "response.output_item.added", "item": output[-1]})
        sent, words, said = 0.0, text.split(" "), 0
        while sent < audio_ms:
            if self.cancel.is_set():
                return "cancelled"  # no transcript `.done`: only the deltas so far
            await self.send(
                {"type": "response.output_audio.delta", **base, "content_index": 0, "delta": audio}
            )
            sent += chunk
            upto = min(len(words), round(len(words) * sent / audio_ms))
            if upto > said:
                delta = " ".join(words[said:upto]) + (" " if upto < len(words) else "")
                said = upto
                await self.send(
                    {"type": "response.output_audio_transcript.delta", **base, "delta": delta}
                )
            self.record.generated_ms[item] = sent
            await asyncio.sleep(chunk / 1000 / behaviour.speed if behaviour.speed else 0)
        done = {"type": "response.output_audio_transcript.done", **base, "transcript": text}
        await self.send({**done, "content_index": 0})
        return "completed"

    async def truncate(self, event: dict[str, Any]) -> None:
        item, end = str(event.get("item_id")), int(event.get("audio_end_ms", -1))
        self.record.truncates.append({"item_id": item, "audio_end_ms": end})
        generated = self.record.generated_ms.get(item)
        if generated is None:
            await self.error(f"Invalid value: '{item}'. Item not found.")
        elif end < 0 or end > generated:
            await self.error(f"Audio content of {generated:g}ms is already shorter than {end}ms")
        else:
            await self.send(
                {"type": "conversation.item.truncated", "item_id": item, "audio_end_ms": end}
            )
