"""OpenAI Realtime (GA) events: server events as pydantic models discriminated by `type`
(the ones the bridge acts on; any other type parses as `Other`), and the client events the
bridge sends, as functions returning JSON text. Pure codec.

GA only: `session.update` carries `session.type = "realtime"` and `audio.input/output`;
deltas are `response.output_audio.delta`; no `OpenAI-Beta` header is ever sent (the beta
shape is shut down: the server closes such sockets with 4000).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError


class EventError(ValueError):
    """A server message that is not a JSON object with a `type`."""


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SessionUpdated(_Event):
    type: Literal["session.created", "session.updated"]


class SpeechStarted(_Event):
    type: Literal["input_audio_buffer.speech_started"]
    item_id: str = ""
    audio_start_ms: int = 0


class InputTranscript(_Event):
    type: Literal["conversation.item.input_audio_transcription.completed"]
    item_id: str = ""
    transcript: str = ""


class ResponseInfo(_Event):
    id: str
    status: str = "in_progress"


class ResponseCreated(_Event):
    type: Literal["response.created"]
    response: ResponseInfo


class AudioDelta(_Event):
    type: Literal["response.output_audio.delta"]
    response_id: str = ""
    item_id: str
    delta: str


class AudioTranscriptDelta(_Event):
    type: Literal["response.output_audio_transcript.delta"]
    item_id: str = ""
    delta: str = ""


class AudioTranscriptDone(_Event):
    type: Literal["response.output_audio_transcript.done"]
    response_id: str = ""
    item_id: str = ""
    transcript: str = ""


class FunctionCall(_Event):
    type: Literal["response.function_call_arguments.done"]
    response_id: str = ""
    call_id: str
    name: str
    arguments: str = "{}"


class ResponseDone(_Event):
    type: Literal["response.done"]
    response: ResponseInfo


class ErrorInfo(_Event):
    type: str = "error"
    code: str | None = None
    message: str = ""
    event_id: str | None = None


class Error(_Event):
    type: Literal["error"]
    error: ErrorInfo


class Other(_Event):
    type: str


_KNOWN = {
    "session.created": "session",
    "session.updated": "session",
    "input_audio_buffer.speech_started": "speech_started",
    "conversation.item.input_audio_transcription.completed": "input_transcript",
    "response.created": "response_created",
    "response.output_audio.delta": "audio_delta",
    "response.output_audio_transcript.delta": "audio_transcript_delta",
    "response.output_audio_transcript.done": "audio_transcript_done",
    "response.function_call_arguments.done": "function_call",
    "response.done": "response_done",
    "error": "error",
}


def _tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return _KNOWN.get(kind, "other") if isinstance(kind, str) else "other"


ServerEvent = Annotated[
    Annotated[SessionUpdated, Tag("session")]
    | Annotated[SpeechStarted, Tag("speech_started")]
    | Annotated[InputTranscript, Tag("input_transcript")]
    | Annotated[ResponseCreated, Tag("response_created")]
    | Annotated[AudioDelta, Tag("audio_delta")]
    | Annotated[AudioTranscriptDelta, Tag("audio_transcript_delta")]
    | Annotated[AudioTranscriptDone, Tag("audio_transcript_done")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[ResponseDone, Tag("response_done")]
    | Annotated[Error, Tag("error")]
    | Annotated[Other, Tag("other")],
    Discriminator(_tag),
]
_SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)


_AUDIO_DELTA: TypeAdapter[AudioDelta] = TypeAdapter(AudioDelta)
_AUDIO_DELTA_PREFIX = '{"type":"response.output_audio.delta"'
AUDIO_DELTA_PREFIXES = (_AUDIO_DELTA_PREFIX, '{"type": "response.output_audio.delta"')
"""How an audio delta begins (compact, as OpenAI sends it, or spaced)."""


def _field(text: str, key: str) -> str | None:
    # as telephony._sliced: with no backslash every `"` delimits a string
    for spelling in (f'"{key}":"', f'"{key}": "'):
        at = text.find(spelling)
        if at >= 0:
            start = at + len(spelling)
            end = text.find('"', start)
            if end < 0 or text.find(f'"{key}"', at + 1) >= 0:
                return None
            return text[start:end]
    return None


def audio_delta(text: str) -> tuple[str, str] | None:
    """(item_id, delta) of a `response.output_audio.delta` event, read by slicing (the
    bridge's hottest path the other way); None for anything else or anything uncertain
    (escapes, a key twice, a missing item_id), which `parse` then reads."""
    if not text.startswith(AUDIO_DELTA_PREFIXES) or not text.endswith("}") or "\\" in text:
        return None
    item_id, delta = _field(text, "item_id"), _field(text, "delta")
    if item_id is None or delta is None:
        return None
    return item_id, delta


def parse(text: str | bytes) -> ServerEvent:
    if isinstance(text, str) and text.startswith(_AUDIO_DELTA_PREFIX):
        # most of a call's events: validated straight as AudioDelta, skipping the Python
        # discriminator; anything that does not validate so takes the general path below
        try:
            return _AUDIO_DELTA.validate_json(text)
        except ValidationError:
            pass
    try:
        return _SERVER_EVENT.validate_json(text)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        if error["type"] != "json_invalid":
            raise EventError(error["msg"]) from exc
    # pydantic's parser refuses a lone surrogate escape ("\ud800"), which a transcript can
    # carry; Python's json takes it (worker.store removes it before saving)
    try:
        return _SERVER_EVENT.validate_python(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise EventError(str(exc)[:200]) from exc


# -- client events ---------------------------------------------------------------------------


def _dump(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def session_update(
    *,
    model: str,
    instructions: str,
    audio_format: dict[str, Any],
    voice: str,
    transcription_model: str,
    silence_ms: int,
    tools: list[dict[str, Any]],
) -> str:
    return _dump(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "model": model,
                "output_modalities": ["audio"],
                "instructions": instructions,
                "audio": {
                    "input": {
                        "format": audio_format,
                        "turn_detection": {
                            "type": "server_vad",
                            "silence_duration_ms": silence_ms,
                            "create_response": True,
                            "interrupt_response": True,
                        },
                        "transcription": {"model": transcription_model},
                        "noise_reduction": {"type": "near_field"},
                    },
                    "output": {"format": audio_format, "voice": voice},
                },
                "tools": tools,
                "tool_choice": "auto",
            },
        }
    )


def append_audio(audio: str) -> str:
    if audio.isascii() and '"' not in audio and "\\" not in audio and audio.isprintable():
        return f'{{"type":"input_audio_buffer.append","audio":"{audio}"}}'  # base64: no escaping
    return _dump({"type": "input_audio_buffer.append", "audio": audio})


def message(role: Literal["user", "system"], text: str) -> str:
    return _dump(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": role,
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )


def response_create() -> str:
    return _dump({"type": "response.create"})


def response_cancel() -> str:
    return _dump({"type": "response.cancel"})


def truncate(item_id: str, audio_end_ms: int) -> str:
    return _dump(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        }
    )


def function_output(call_id: str, output: dict[str, Any]) -> str:
    return _dump(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": _dump(output)},
        }
    )
