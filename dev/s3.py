"""The local S3 for call recordings: moto's server mode on loopback (what `make dev` and the
tests use as STORAGE_S3_ENDPOINT; production refuses a local endpoint), with the recordings
bucket created. Clients reach it with path-style addressing, as they reach Supabase Storage.
"""

from __future__ import annotations

import logging

BUCKET = "call-recordings"
REGION = "us-east-1"
ACCESS_KEY_ID = "local-access-key"
SECRET_ACCESS_KEY = "local-secret-key"  # noqa: S105 - moto accepts any pair


class LocalS3:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = ""

    def start(self) -> LocalS3:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        self._server.stop()

    def env(self) -> dict[str, str]:
        return {
            "STORAGE_S3_ENDPOINT": self.url,
            "STORAGE_S3_BUCKET": BUCKET,
            "STORAGE_S3_REGION": REGION,
            "STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "STORAGE_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def client(self):  # noqa: ANN201 - a boto3 S3 client
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )
