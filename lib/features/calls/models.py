"""What calls.* accepts and returns (camelCase: the wire is JSON read by JavaScript), and the
mapping from a `public.calls` row (snake_case, from PostgREST or a calls_* function)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CallStatus = Literal[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
]
Outcome = Literal["goal_achieved", "not_interested", "callback_requested"]
Direction = Literal["inbound", "outbound"]
SummaryKind = Literal["extractive", "ai"]

E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164 number")]
CallId = Annotated[
    str,
    Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]
MAX_CONTEXT_BYTES = 4096

LIST_COLUMNS = (
    "id,direction,status,from_number,to_number,goal,outcome,summary,summary_kind,duration_s,"
    "end_reason,"
    "created_at,ended_at"
)


class StartInput(BaseModel):
    """calls.start: dial `to` and pursue `goal`, knowing `context` (e.g. the customer's name)."""

    model_config = ConfigDict(extra="forbid")

    to: E164
    goal: str = Field(min_length=1, max_length=2000)
    context: dict[str, Any] = Field(default_factory=dict)
    fromNumber: E164 | None = None
    """Caller id: one of the caller's call numbers. Absent: VOICE_FROM_NUMBER if the caller
    owns it, else the caller's oldest number."""

    @field_validator("context")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value).encode()) > MAX_CONTEXT_BYTES:
            raise ValueError(f"context is at most {MAX_CONTEXT_BYTES} bytes of JSON")
        return value


class GetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: CallId


class ListInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    before: datetime | None = None
    """Only calls created before this (the previous page's `next`)."""


class TranscriptEntry(BaseModel):
    role: Literal["caller", "assistant"]
    text: str
    atMs: int
    """Milliseconds since the media stream started."""
    interrupted: bool = False
    """The caller talked over this assistant turn; they heard only part of it."""


class CallListItem(BaseModel):
    id: str
    direction: Direction
    status: CallStatus
    fromNumber: str
    toNumber: str
    goal: str
    outcome: Outcome | None
    summary: str | None
    summaryKind: SummaryKind | None = None
    """'ai' (written by a model) or 'extractive' (quoted from the transcript, no model)."""
    durationS: int | None
    endReason: str | None
    createdAt: datetime
    endedAt: datetime | None


class RecordingState(BaseModel):
    status: Literal["stored", "failed", "off", "empty", "deleted"]
    """stored: calls.recording gives a link; otherwise `error` says why there is none."""
    durationMs: int | None
    error: str | None


class Call(CallListItem):
    context: dict[str, Any]
    outcomeNotes: str | None
    transcript: list[TranscriptEntry]
    answeredAt: datetime | None
    recording: RecordingState | None = None
    """The call's audio (docs/calls.md, Recordings); null until the call is saved."""


class CallList(BaseModel):
    calls: list[CallListItem]
    next: datetime | None
    """Pass as `before` for the next page; null on the last page."""


def _common(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "direction": row["direction"],
        "status": row["status"],
        "fromNumber": row["from_number"],
        "toNumber": row["to_number"],
        "goal": row.get("goal") or "",
        "outcome": row.get("outcome"),
        "summary": row.get("summary"),
        "summaryKind": row.get("summary_kind"),
        "durationS": row.get("duration_s"),
        "endReason": row.get("end_reason"),
        "createdAt": row["created_at"],
        "endedAt": row.get("ended_at"),
    }


def list_item(row: Mapping[str, Any]) -> CallListItem:
    return CallListItem.model_validate(_common(row))


def call(row: Mapping[str, Any]) -> Call:
    return Call.model_validate(
        {
            **_common(row),
            "context": row.get("context") or {},
            "outcomeNotes": row.get("outcome_notes"),
            "transcript": row.get("transcript") or [],
            "answeredAt": row.get("answered_at"),
            "recording": {
                "status": row["recording_status"],
                "durationMs": row.get("recording_duration_ms"),
                "error": row.get("recording_error"),
            }
            if row.get("recording_status")
            else None,
        }
    )
