"""The real server for system tests: gunicorn in a subprocess on a free loopback port,
against the test's database (the `app` fixture's SQLite file or PostgreSQL database).

`serve(workers=, threads=, **settings)` starts it and waits until it answers; the server
runs in its own process group, so that `kill()` can SIGKILL the master and every worker
at once, as a crash would. Whatever is still running is stopped at the end of the test.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Server:
    """A gunicorn started by `serve`; `request` opens a connection per call."""

    env: dict[str, str]
    workers: int
    threads: int
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> Server:
        command = [
            sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
            "--workers", str(self.workers), "--threads", str(self.threads),
            "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "2",
            # The app imported once, before the workers fork: a start costs one import.
            "--preload", "--no-control-socket", "--error-logfile", str(self.log), "--log-level", "info",
            "wsgi:app",
        ]
        with self.output.open("ab") as output:  # the app's own log lines and tracebacks
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True,
                                            stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                ready = self.request("GET", "/", timeout=5).status < 500
                if ready and len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {START_TIMEOUT_S} s:\n{self.log_text()}")

    def request(self, method: str, path: str, token: str | None = None, json_body: Any = None,
                body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> Response:
        """One request on a fresh connection; paths without a leading slash are API paths."""
        if not path.startswith("/"):
            path = "/api/v1/" + path
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
            except BrokenPipeError:
                pass  # the server answered before reading the whole body: read the answer
            raw = conn.getresponse()
            data = raw.read()
            kind = raw.getheader("Content-Type", "")
            parsed: Any = json.loads(data) if "json" in kind and data else data
            return Response(raw.status, parsed, dict(raw.getheaders()))
        finally:
            conn.close()

    def group_pids(self) -> list[int]:
        """Every live process of the server's process group: the master and its workers."""
        if self.process is None:
            return []
        pgid, pids = self.process.pid, []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: split after the last ')'.
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
        return pids

    def worker_pids(self) -> list[int]:
        return [pid for pid in self.group_pids() if self.process and pid != self.process.pid]

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers, no clean-up), as a crash."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.group_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.group_pids(), "workers survived SIGKILL"

    @property
    def output(self) -> Path:
        return self.log.with_suffix(".out")

    def log_text(self) -> str:
        """gunicorn's log, then the app's output."""
        return "".join(path.read_text(errors="replace") for path in (self.log, self.output)
                       if path.exists())


@pytest.fixture
def serve(app, tmp_path):
    """Start gunicorn on the test's database: `serve(workers=2, threads=8, NAME=value)`;
    NAME=value become environment settings (app/config.py) of the server."""
    servers: list[Server] = []
    # The test's own rows must be visible to the server, and its connections must not
    # hold locks the server will need.
    db.session.commit()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "PHOTO_", "INSTANCE_", "SECRET_", "PYTEST_"))
    }
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        INSTANCE_PATH=str(tmp_path / "server-instance"),
        PHOTO_DIR=app.config["PHOTO_DIR"],
        SECRET_KEY=uuid.uuid4().hex,
        PASSWORD_HASH_METHOD=app.config["PASSWORD_HASH_METHOD"],
        TMPDIR=str(tmp),  # the server's temporary files, checked by the upload test
        PYTHONUNBUFFERED="1",
    )

    def start(workers: int = 2, threads: int = 8, **settings: Any) -> Server:
        server_env = {**env, **{name: str(value) for name, value in settings.items()}}
        server = Server(server_env, workers, threads, tmp_path / f"gunicorn-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()  # nothing to finish: the test has read what it needed
    db.session.remove()


def tokens_for(users) -> dict[int, str]:
    """A bearer token per user, committed."""
    from app.services.auth import create_token

    tokens = {user.id: create_token(user, "system test")[1] for user in users}
    db.session.commit()
    return tokens
