"""A local S3 API on 127.0.0.1 (moto, in this process) for tests, demos and benchmarks.

Needs the ``testing`` extra: ``pip install "pylts[testing]>=0.1"``. ``python -m pylts.testing``
keeps one running and prints the settings to put in ``.env``, to try pylts by hand.

>>> import tempfile
>>> with LocalS3() as s3:
...     s3.create_bucket("demo-bucket")
...     cfg = s3.config("demo-bucket", folder=tempfile.mkdtemp())
...     cfg.replica.endpoint == s3.endpoint
True

For pytest, the plugin `pylts.pytest_plugin` (loaded on its own once pylts is installed) gives
each test a ready `ConfigS3` on a LocalS3: see docs/testing-your-app.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import urllib.request
from types import TracebackType
from typing import Any

from .config import ConfigS3
from .errors import InvalidArgument, MissingExtra
from .replica import bucket_problem

#: Credentials LocalS3 accepts while it does not enforce authentication.
ACCESS_KEY = "AKIAPYLTSLOCALTEST01"
SECRET_KEY = "pylts-local-secret-do-not-use-elsewhere"


class LocalS3:
    """moto's S3 in server mode on ``127.0.0.1``, on a free port unless one is given.

    A new ``LocalS3`` starts empty. Stopping it and starting it again keeps its
    buckets (on the same port), which makes an S3 outage easy to stage. moto keeps
    its data per Python process, so run one ``LocalS3`` at a time.
    """

    def __init__(self, port: int = 0) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise MissingExtra("LocalS3", "moto", "testing") from None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._factory = ThreadedMotoServer
        self._server: Any = None
        self._started_before = False
        self.port = port

    @property
    def endpoint(self) -> str:
        """The endpoint URL, e.g. ``http://127.0.0.1:50123``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalS3:
        """Start serving (again, on the same port once one was chosen)."""
        self._server = self._factory(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        if not self._started_before:
            self.reset()
            self._started_before = True
        return self

    def stop(self) -> None:
        """Stop serving; buckets and objects stay for a later `start`."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket; a name S3 or a replica URL would refuse raises `InvalidArgument` (a `ValueError` too).

        moto itself accepts names such as ``Bad_Name`` that no real store, and no ``REPLICA_URL``, takes.
        """
        problem = bucket_problem(name)
        if problem is None and len(name) < 3:
            problem = f"bucket name {name!r} is too short: S3 wants 3 to 63 characters (e.g. my-backups)"
        if problem:
            raise InvalidArgument(problem)
        self._client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        """Every object key in a bucket."""
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def reset(self) -> None:
        """Drop every bucket and turn authentication off."""
        self._post("/moto-api/reset", b"")
        self.require_auth(False)

    def require_auth(self, enabled: bool) -> None:
        """Reject unknown credentials (``True``) or accept any (``False``, the default)."""
        self._post("/moto-api/reset-auth", b"0" if enabled else b"inf")

    def config(self, bucket: str, path: str = "db.sqlite", **settings: Any) -> ConfigS3:
        """A `ConfigS3` for ``s3://bucket/path`` on this server, with its credentials."""
        values: dict[str, Any] = {
            "key": ACCESS_KEY,
            "token": SECRET_KEY,
            "s3": f"s3://{bucket}/{path}",
            "endpoint": self.endpoint,
            "region": "us-east-1",
        }
        values.update(settings)
        return ConfigS3(_env_file=None, **values)

    def _post(self, path: str, body: bytes, attempts: int = 3) -> Any:
        """POST to moto's control API. Its calls are idempotent, so a dropped connection is tried again.

        moto's server has been seen resetting the connection of the call right after a reset of a
        busy server (hundreds of objects written by the test before).
        """
        request = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        for attempt in range(1, attempts):
            with contextlib.suppress(ConnectionError):  # a reset or a remote disconnect: try again
                return self._post_once(request)
            time.sleep(0.2 * attempt)
        return self._post_once(request)

    @staticmethod
    def _post_once(request: urllib.request.Request) -> Any:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text.strip().startswith(b"{") else None


def main(argv: list[str] | None = None) -> None:
    """Serve a local S3 with one bucket until Ctrl-C, printing the ``.env`` lines that reach it."""
    import argparse
    import threading

    parser = argparse.ArgumentParser(prog="python -m pylts.testing", description=main.__doc__)
    parser.add_argument("--bucket", default="pylts-local", help="the bucket to create (default: pylts-local)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    try:
        server = LocalS3(port=args.port)
    except MissingExtra as exc:
        sys.exit(f"python -m pylts.testing: {exc}")
    with server as s3:
        s3.create_bucket(args.bucket)
        print(f"# a local S3 on {s3.endpoint}, bucket {args.bucket!r}; Ctrl-C stops it (and forgets everything)")
        print(f"LITESTREAM_ACCESS_KEY_ID={ACCESS_KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET_KEY}")
        print(f"REPLICA_URL=s3://{args.bucket}/db.sqlite\nREPLICA_ENDPOINT={s3.endpoint}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
