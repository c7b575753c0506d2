"""Calls: AI phone calls through SignalWire/Twilio and the voice bridge (worker/).

    webhooks.py    POST /api/voice/incoming (TwiML that streams the call to the bridge) and
                   /api/voice/status (status callbacks), signature-checked, idempotent
    procedures.py  calls.start / calls.get / calls.list (tRPC)
    recordings.py  calls.recording (a presigned link to the call's WAV) and the
                   recording-retention job; storage.py: the S3-compatible bucket
    provider.py    the provider's REST API (placing calls), on an injected httpx client
    settings.py    CallsSettings (caller id, stream codec, bridge URL and token secret)
    token.py       short-lived stream tokens the bridge verifies (pure)
    twiml.py       TwiML/LaML documents (pure)
    models.py      inputs and views

The call's life: webhook -> calls row (migration 20261121060001_calls) -> TwiML -> the provider
streams audio to the bridge -> the bridge talks to OpenAI Realtime and, when the call ends,
saves transcript/outcome/summary with calls_finish(), which queues `call-ended` on
private-user-{owner} in the same transaction.
"""

from lib.cron import CronJob
from lib.feature import Feature
from lib.features.calls.procedures import PROCEDURES
from lib.features.calls.recordings import PROCEDURE as RECORDING
from lib.features.calls.recordings import expire_recordings
from lib.features.calls.settings import CallsSettings
from lib.features.calls.webhooks import INCOMING, STATUS

FEATURE = Feature(
    name="calls",
    production_urls=("BRIDGE_URL", "STORAGE_S3_ENDPOINT"),
    procedures=(*PROCEDURES, RECORDING),
    jobs=(
        CronJob(
            name="recording-retention",
            run=expire_recordings,
            schedule="23 2 * * *",
            description="Daily: delete call recordings older than RECORDING_RETENTION_DAYS "
            "(90; 0 keeps them), objects first, then their rows' keys.",
        ),
    ),
    webhooks=(INCOMING, STATUS),
    settings=CallsSettings,
    migration="20261130930000",
    schema=(
        *("calls", "calls_create_outbound", "calls_place_failed", "calls_status"),
        *("calls_on_incoming", "calls_on_status"),
        *("calls_recordings_expired", "calls_recordings_deleted"),
    ),
    description="AI phone calls through SignalWire/Twilio and the voice bridge.",
)
