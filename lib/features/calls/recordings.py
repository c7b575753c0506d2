"""Call recordings: the bridge (worker/recording*.py) uploads each call's WAV to S3-compatible
storage and calls_finish notes where it is; here the api hands it out and expires it.

    calls.recording  query, signed in   {callId} -> {url, expiresAt, durationMs, contentType}:
                                        a presigned GET valid RECORDING_URL_TTL_S (300 s), for
                                        the call's owner only (anyone else: NOT_FOUND, as
                                        calls.get); a call without audio: NOT_FOUND saying why
                                        (recordings off, the upload's error, deleted)
    recording-retention  cron job       deletes the recordings of calls that ended more than
                                        RECORDING_RETENTION_DAYS ago (0: keep them), objects
                                        first, then marks the rows (calls_recordings_deleted);
                                        a failed delete leaves its row for the next run

Storage is `storage.StorageSettings` (STORAGE_S3_*; Supabase Storage's S3 endpoint is
https://<ref>.supabase.co/storage/v1/s3 with an S3 access key pair from the dashboard). boto3 is
imported where used and its blocking calls run on a worker thread.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from lib.errors import NotFound, ServiceUnavailable
from lib.features.calls.models import CallId
from lib.features.calls.procedures import fetch_rows
from lib.features.calls.settings import CallsSettings
from lib.rpc.procedure import Context, Procedure

if TYPE_CHECKING:
    from lib.services import Services

RETENTION_BATCH = 500
"""Recordings one job run deletes at most (S3 DeleteObjects takes 1,000 keys)."""


class RecordingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callId: CallId


class RecordingLink(BaseModel):
    url: str
    expiresAt: datetime
    durationMs: int | None
    contentType: str


async def recording(ctx: Context, input: RecordingInput) -> RecordingLink:
    settings = ctx.services.feature(CallsSettings)
    client = await ctx.db.client()
    found = await fetch_rows(
        client.table("calls")
        .select("id, recording_status, recording_key, recording_error, recording_duration_ms")
        .eq("id", input.callId)
        .eq("owner_id", ctx.user.user_id)
    )
    if not found:
        raise NotFound(f"no call {input.callId}")
    call = found[0]
    key = call.get("recording_key")
    if call.get("recording_status") != "stored" or not key:
        why = call.get("recording_error") or call.get("recording_status") or "not recorded"
        raise NotFound(f"call {input.callId} has no recording: {why}")
    storage = settings.storage
    if not storage.bucket:
        raise ServiceUnavailable("recordings are stored but STORAGE_S3_BUCKET is not set")
    ttl = settings.recording_url_ttl_s

    def presign() -> str:
        url: str = storage.client().generate_presigned_url(
            "get_object", Params={"Bucket": storage.bucket, "Key": key}, ExpiresIn=ttl
        )
        return url

    url = await asyncio.to_thread(presign)
    return RecordingLink(
        url=url,
        expiresAt=datetime.now(UTC) + timedelta(seconds=ttl),
        durationMs=call.get("recording_duration_ms"),
        contentType="audio/wav",
    )


async def expire_recordings(services: Services) -> dict[str, Any]:
    """The recording-retention job: {"deleted": n, "failed": [keys...]}."""
    settings = services.feature(CallsSettings)
    days = settings.recording_retention_days
    storage = settings.storage
    if days == 0 or not storage.bucket:
        return {"deleted": 0, "skipped": "RECORDING_RETENTION_DAYS=0 or no STORAGE_S3_BUCKET"}
    before = datetime.now(UTC) - timedelta(days=days)
    expired: list[dict[str, Any]] = await services.db.rpc(
        "calls_recordings_expired", p_before=before.isoformat(), p_limit=RETENTION_BATCH
    )
    if not expired:
        return {"deleted": 0, "failed": []}
    by_key = {str(row["recording_key"]): str(row["id"]) for row in expired}

    def delete() -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        objects = [{"Key": key} for key in by_key]
        try:
            answer = storage.client().delete_objects(
                Bucket=storage.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        except (BotoCoreError, ClientError) as exc:
            raise ServiceUnavailable(f"storage refused the deletes: {exc}") from exc
        return [str(error["Key"]) for error in answer.get("Errors", [])]

    failed = await asyncio.to_thread(delete)
    deleted = [call for key, call in by_key.items() if key not in failed]
    marked = await services.db.rpc("calls_recordings_deleted", p_ids=deleted) if deleted else 0
    return {"deleted": marked, "failed": failed}


PROCEDURE = Procedure(
    path="calls.recording",
    kind="query",
    input=RecordingInput,
    output=RecordingLink,
    handler=recording,
    rate_limit=(120, 60),
    description="A short-lived link to one of the caller's call recordings (WAV).",
)
