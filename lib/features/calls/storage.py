"""Where call recordings are kept: S3-compatible storage (STORAGE_S3_*), one bucket.

Supabase Storage speaks S3 at https://<ref>.supabase.co/storage/v1/s3 (path-style addressing,
an access key pair made in the dashboard); any S3 works; `make dev` and the tests run moto's
server mode. The bridge (worker/recording_store.py) uploads with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib.config import Secret


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    endpoint: str = ""
    """STORAGE_S3_ENDPOINT; blank: AWS S3 itself."""
    bucket: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: Secret = field(default_factory=lambda: Secret(""))

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint or None,
            region_name=self.region,
            aws_access_key_id=self.access_key_id or None,
            aws_secret_access_key=self.secret_access_key.get() or None,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=20,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
