"""Photo files in an S3-compatible bucket (``PHOTO_STORAGE=s3``), through boto3.

The bucket stays private: every request is signed with the deployment's key, and the
app serves the files itself after its scope checks (no public bucket, no presigned URL
that would outlive the check). An object appears whole when its single PUT completes
(S3 never shows a half-written object); the PUT carries the body's MD5, so that a body
damaged on the way is refused by the server instead of stored. Reads stream in chunks.
"""
from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from app.storage import CHUNK, PhotoStorage, StorageError, checked_key

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage(PhotoStorage):
    """One object per key in ``bucket``; the key is the object's name."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Storage:
        missing = [name for name in ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
                   if not config.get(name)]
        if missing:
            raise ValueError(f"PHOTO_STORAGE=s3 needs {', '.join(missing)}.")
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            aws_access_key_id=config["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=config["S3_SECRET_ACCESS_KEY"],
            region_name=config.get("S3_REGION") or "us-east-1",
            config=BotoConfig(
                # Path-style addressing works with every S3-compatible server, whatever
                # its DNS; virtual-hosted buckets need a wildcard name per bucket.
                s3={"addressing_style": config.get("S3_ADDRESSING_STYLE") or "path"},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5, read_timeout=30,
                # Twenty uploads at once each write three objects.
                max_pool_connections=32,
            ),
        )
        return cls(client, config["S3_BUCKET"])

    def put(self, key: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        with _errors(key):
            self.client.put_object(Bucket=self.bucket, Key=checked_key(key), Body=data,
                                   ContentMD5=md5, ContentLength=len(data))

    def read(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> ObjectStream:
        with _errors(key):
            answer = self.client.get_object(Bucket=self.bucket, Key=checked_key(key))
        return ObjectStream(_ObjectBody(answer["Body"]), answer["ContentLength"])

    def delete(self, key: str) -> None:
        with _errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=checked_key(key))

    def exists(self, key: str) -> bool:
        try:
            with _errors(key):
                self.client.head_object(Bucket=self.bucket, Key=checked_key(key))
        except FileNotFoundError:
            return False
        return True

    def keys(self) -> Iterator[str]:
        with _errors(self.bucket):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket):
                for item in page.get("Contents", ()):
                    yield item["Key"]

    def describe(self) -> str:
        return f"the bucket {self.bucket}"


class ObjectStream(io.BufferedReader):
    """An object being read: ``size`` bytes in all, read in pieces of CHUNK."""

    def __init__(self, raw: io.RawIOBase, size: int) -> None:
        super().__init__(raw, CHUNK)
        self.size = size


class _ObjectBody(io.RawIOBase):
    """An object's body as a raw stream; closing it closes its connection (also when
    it is collected unclosed: io's finaliser calls close)."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.body.read(len(buffer))
        except (BotoCoreError, OSError) as exc:
            raise StorageError(f"reading a photo from S3 failed: {exc}") from exc
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.body.close()
        super().close()


@contextmanager
def _errors(key: str) -> Iterator[None]:
    """botocore's errors as the interface's: FileNotFoundError for a missing object,
    StorageError (an OSError) for everything else."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise FileNotFoundError(f"No photo file {key}") from error
        raise StorageError(f"S3 refused {key}: {error}") from error
    except BotoCoreError as error:
        raise StorageError(f"S3 is not reachable for {key}: {error}") from error
