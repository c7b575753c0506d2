"""Call recordings in S3-compatible storage (Supabase Storage's S3 endpoint in production; any
S3 works; moto's server locally), through boto3 on a worker thread: the event loop, and with it
every other call's audio, never waits on an upload.

    upload(key, wav, attempts, deadline)   PUT the object; retried like the call record
                                           (worker.store.retrying): unreachable, timeouts,
                                           5xx and throttling are retried, anything else
                                           (no such bucket, access denied) is raised at once

boto3 is imported on the first upload (the bridge starts without it); its client is built once
and shared (boto3 clients are thread-safe); botocore's own retries are off (ours count).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from worker.config import BridgeConfig
from worker.store import StoreError, retrying

RETRYABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"}


def recording_key(owner_id: str, call_id: str) -> str:
    return f"calls/{owner_id}/{call_id}.wav"


class RecordingStore:
    def __init__(self, config: BridgeConfig) -> None:
        self._config = config
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self._config.storage_s3_bucket

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = self._config
                self._client = boto3.client(
                    "s3",
                    endpoint_url=config.storage_s3_endpoint or None,
                    region_name=config.storage_s3_region,
                    aws_access_key_id=config.storage_s3_access_key_id or None,
                    aws_secret_access_key=config.storage_s3_secret_access_key.get() or None,
                    config=Config(
                        s3={"addressing_style": "path"},
                        signature_version="s3v4",
                        retries={"max_attempts": 1},
                        connect_timeout=5,
                        read_timeout=30,
                    ),
                )
            return self._client

    def _put(self, key: str, body: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            self._s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="audio/wav")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            retryable = status >= 500 or status == 429 or error.get("Code") in RETRYABLE_CODES
            message = f"S3 PUT {self.bucket}/{key} -> {status} {error.get('Code')}"
            raise StoreError(message, retryable=retryable) from exc
        except BotoCoreError as exc:  # unreachable or timed out: retried; a bad setup: not
            retryable = isinstance(exc, BotoConnectionError | HTTPClientError)
            raise StoreError(f"S3 PUT {self.bucket}/{key}: {exc}", retryable=retryable) from exc

    async def upload(
        self, key: str, body: bytes, *, attempts: int, deadline: float | None = None
    ) -> None:
        async def once() -> None:
            await asyncio.to_thread(self._put, key, body)

        await retrying(once, attempts=attempts, deadline=deadline, what="upload recording")
