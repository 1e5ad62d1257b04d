"""Small helpers the tests share: rows to back up and compare, and skipping honestly."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn, Protocol

import pytest

from pylts import ConfigS3, Replicator
from pylts.testing import LocalS3


class S3Server(Protocol):
    """What tests need of an S3 server on 127.0.0.1 (`pylts.testing.LocalS3`, `rclone_s3.RcloneS3`)."""

    @property
    def endpoint(self) -> str: ...

    def create_bucket(self, name: str) -> None: ...

    def keys(self, bucket: str) -> list[str]: ...

    def config(self, bucket: str, path: str = ..., **settings: Any) -> ConfigS3: ...


#: The console script pip installed beside this Python: the CLI as a user types it.
PYLTS_COMMAND = str(Path(sys.executable).with_name("pylts"))


def missing(reason: str) -> NoReturn:
    """Skip when a piece of the test setup is missing; in CI, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def require(*modules: str) -> None:
    """Skip (in CI, fail) unless every one of ``modules`` can be imported."""
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    if absent:
        missing(f"{', '.join(absent)} not installed: pip install -e '.[dev]'")


def waited(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05) -> float | None:
    """Seconds until ``condition()`` held, checked every ``interval``; None if it did not within ``timeout``."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started >= timeout:
            return None
        time.sleep(interval)


def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> bool:
    """Whether ``condition()`` held within ``timeout`` seconds (polled every 50 ms, not slept through)."""
    return waited(condition, timeout) is not None


def kill_litestream(replication: Replicator, within: float = 10.0) -> int:
    """SIGKILL the litestream ``replication`` runs, once one runs; return its pid.

    Between runs (pylts stops litestream for about 0.1 s to write the snapshot a restart owes) there is none
    to kill, and the one just read may end before the kill: both are waited out, within ``within`` seconds.
    """
    end = time.monotonic() + within
    while time.monotonic() < end:
        pid = replication.status().pid
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.02)
    pytest.fail(f"no litestream to kill within {within} s: {replication.status()}")


def derive(cfg: ConfigS3, **changes: Any) -> ConfigS3:
    """``cfg`` with ``changes``, rebuilt through the constructor so every validator runs (``model_copy`` skips them)."""
    return ConfigS3(_env_file=None, **{**dict(cfg), **changes})


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on (closed again at once: connecting to it is refused)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_name(server: S3Server) -> str:
    """``moto`` or ``rclone``, for figures that name the S3 server they were measured on."""
    return "moto" if isinstance(server, LocalS3) else "rclone"


@contextmanager
def refused_credentials(server: S3Server, cfg: ConfigS3) -> Iterator[ConfigS3]:
    """``cfg`` with credentials ``server`` refuses: moto with authentication on, others given a wrong secret."""
    if isinstance(server, LocalS3):
        server.require_auth(True)
        try:
            yield cfg
        finally:
            server.require_auth(False)
    else:
        yield derive(cfg, token="a-wrong-secret-for-this-server")


def write_rows(db: Path, count: int, *, start: int = 0) -> None:
    """Create (if needed) a table ``items`` and add ``count`` rows to it."""
    db.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.executemany(
            "INSERT INTO items (id, body) VALUES (?, ?)", ((i, f"item {i}") for i in range(start, start + count))
        )


def read_rows(db: Path) -> list[tuple[int, str]]:
    """Every row of ``items``, in id order."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT id, body FROM items ORDER BY id").fetchall()


def settings_env(cfg: ConfigS3, **extra: str) -> dict[str, str]:
    """This process's environment plus ``cfg`` as the variables ConfigS3 reads, for a child process."""
    assert cfg.key is not None and cfg.token is not None
    env = dict(
        os.environ,
        LITESTREAM_ACCESS_KEY_ID=cfg.key.get_secret_value(),
        LITESTREAM_SECRET_ACCESS_KEY=cfg.token.get_secret_value(),
        REPLICA_URL=cfg.s3,
        REPLICA_ENDPOINT=cfg.endpoint or "",
        REPLICA_REGION=cfg.region or "",
        DB_SQLITE=cfg.db,
        DB_FOLDER=str(cfg.folder),
    )
    if cfg.litestream_bin is not None:
        env["LITESTREAM_BIN"] = str(cfg.litestream_bin)
    env.update(extra)
    return env


@contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process`` for the ``with`` block; afterwards it is killed if still running, reaped, and its pipes closed."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


#: Figures the drills record: (drill, litestream version, text); written by conftest's ``drill_figures`` fixture.
FIGURES: list[tuple[str, str, str]] = []


def record(drill: str, cfg: ConfigS3, text: str) -> None:
    """Note a drill's figures for docs/_generated/drill-figures.md (``python3 tasks.py drills``)."""
    FIGURES.append((drill, str(cfg.plan().litestream.version), text))


class _Forward(logging.Handler):
    def __init__(self, on_record: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(logging.DEBUG)
        self._on_record = on_record

    def emit(self, record: logging.LogRecord) -> None:
        self._on_record(record)


@contextmanager
def pylts_log(on_record: Callable[[logging.LogRecord], None]) -> Iterator[None]:
    """While the block runs, hand every record pylts logs, debug included, to ``on_record`` as it is logged."""
    pylts_logger = logging.getLogger("pylts")
    handler, level = _Forward(on_record), pylts_logger.level
    pylts_logger.addHandler(handler)
    pylts_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        pylts_logger.removeHandler(handler)
        pylts_logger.setLevel(level)


def litestream_child(parent: int) -> int | None:
    """The pid of the ``litestream replicate`` that process ``parent`` runs, if any."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            ppid = int(cmdline.with_name("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        running = argv[1:2] == [b"replicate"] and b"-once" not in argv  # not a one-shot snapshot or backup
        if ppid == parent and argv[0].endswith(b"litestream") and running:
            return int(cmdline.parent.name)
    return None
