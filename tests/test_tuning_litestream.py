"""The real litestream (0.5.17 and 0.3.13) takes the tuned config pylts writes, and does what it says."""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import derive, free_port, pylts_log, write_rows

from pylts import ConfigS3, LitestreamTimeout, runner
from pylts.commands import config_option
from pylts.output import RunResult
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration

#: Every duration setting, in the forms users write.
DURATIONS: dict[str, Any] = {
    "sync_interval": "2s",
    "snapshot_interval": "1h",
    "snapshot_retention": "48h",
    "l0_retention": "10m",
    "l0_retention_check_interval": "7m",
    "busy_timeout": "3s",
    "heartbeat_interval": "2m",
}


def tunable(cfg: ConfigS3) -> frozenset[str]:
    """The settings the litestream line of ``cfg`` has a config key for."""
    return cfg.plan().line.tunable


def tuned(cfg: ConfigS3, **more: Any) -> ConfigS3:
    """``cfg`` with every duration setting its litestream line has (and a heartbeat, where it has one)."""
    every = {**DURATIONS, "heartbeat_url": "http://127.0.0.1:9/ping"}
    return derive(cfg, **{name: value for name, value in every.items() if name in tunable(cfg)}, **more)


@contextmanager
def litestream_lines() -> Iterator[list[str]]:
    """Every line litestream prints while the block runs (pylts logs them at debug level)."""
    lines: list[str] = []

    def keep(record: logging.LogRecord) -> None:
        if record.getMessage().startswith("litestream["):
            lines.append(record.getMessage())

    with pylts_log(keep):
        yield lines


class _Pings(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.pings.append(time.monotonic())  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def heartbeat_receiver() -> Iterator[tuple[str, list[float]]]:
    """A tiny HTTP server on 127.0.0.1: its URL, and the moments it was pinged."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pings)
    server.pings = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ping", server.pings  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_replication_runs_with_every_setting_its_line_has(cfg: ConfigS3) -> None:
    port = free_port()
    settings = tuned(cfg, metrics_address=port)
    line = settings.plan().line
    with litestream_lines() as lines, settings.replicating() as replication:
        write_rows(settings.dbpath, 10)
        assert replication.wait_for_sync(30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert answer.status == 200
            assert "litestream_" in answer.read().decode()
    printed = "\n".join(lines)
    assert f'msg="serving metrics on" url=http://127.0.0.1:{port}/metrics' in printed
    assert re.search(r"replicating to\".*sync-interval=2s", printed)
    if "l0_retention" in line.tunable:  # where litestream has them, it says what it took
        assert re.search(r"starting L0 retention monitor\".*interval=7m0s retention=10m0s", printed)
    if "heartbeat_url" in line.tunable:
        assert "starting heartbeat monitor" in printed
    if line.has_txids:  # LTX files are compacted in levels; snapshots are the top one
        assert re.search(r"starting compaction monitor\".*level=9 interval=1h0m0s", printed)


def test_litestream_reads_every_key_where_pylts_writes_it(cfg: ConfigS3, tmp_path: Path) -> None:
    """Both lines skip unknown keys without a word: a bad value in each key pylts writes must make litestream refuse."""
    text = tuned(cfg, metrics_address=9090).litestream_config()
    durations = [i for i, line in enumerate(text.splitlines()) if re.search(r': "\d+m?s"$', line)]
    assert len(durations) == len(tunable(cfg) & set(DURATIONS))  # every duration setting of the line was written
    for index in durations:
        broken = text.splitlines()
        key = broken[index].split(":")[0]
        broken[index] = f'{key}: "not-a-duration"'
        result = litestream_with(cfg, tmp_path, "\n".join(broken))
        assert result.returncode != 0, f"litestream ignored {key.strip()} where pylts writes it"
        assert re.search(r"cannot unmarshal !!str `not-a-d.*` into time.Duration", result.stderr + result.stdout)
    no_port = litestream_with(cfg, tmp_path, text.replace('addr: "127.0.0.1:9090"', 'addr: "127.0.0.1"'))
    assert no_port.returncode != 0, "litestream ignored addr"
    if "heartbeat_url" in tunable(cfg):
        no_http = litestream_with(cfg, tmp_path, text.replace("http://127.0.0.1:9/ping", "ftp://127.0.0.1/ping"))
        assert "heartbeat URL must be a valid HTTP or HTTPS URL" in no_http.stderr


def litestream_with(cfg: ConfigS3, folder: Path, config: str) -> RunResult:
    """``litestream replicate`` with ``config``; a config it refuses ends it at once, else it is stopped in 10 s."""
    path = folder / "litestream.yml"
    path.write_text(config)
    ctx = cfg.plan()
    argv = [str(ctx.litestream.path), "replicate", *config_option(path)]
    try:
        return runner.run(argv, env=ctx.env, timeout=10)
    except LitestreamTimeout as exc:
        raise AssertionError(f"litestream took the config and ran: {exc.output}") from None


def writing_until(db: Path, done: Any, seconds: float) -> bool:
    """Commit a row every second, like a busy app, until ``done()`` or ``seconds`` ran out; whether ``done()``."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        write_rows(db, 1, start=time.monotonic_ns())
        time.sleep(1)
    return True


@pytest.mark.long
@pytest.mark.slow
def test_the_heartbeat_is_pinged_while_in_sync_and_stops_while_the_store_is_down(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """Measured on 0.5.17 (1 min interval): a ping ~15 s after the start; at most one more within ~70 s of an
    outage (its last sync is still recent), then none until the store is back."""
    outage = 125.0  # two intervals and then some: long enough for the pings to stop
    with heartbeat_receiver() as (url, pings):
        settings = local_s3.config(
            bucket, "app.db", db="app.db", folder=tmp_path / "data", heartbeat_url=url, heartbeat_interval="1m"
        )
        with settings.replicating() as replication:
            started = time.monotonic()
            assert writing_until(settings.dbpath, lambda: pings, 30), "no heartbeat within 30 s of being in sync"
            first = pings[0] - started
            local_s3.stop()
            down = time.monotonic()
            try:
                writing_until(settings.dbpath, lambda: time.monotonic() - down > outage, outage + 5)
                during = [round(ping - down, 1) for ping in pings if ping > down]
            finally:
                local_s3.start()
            up = time.monotonic()
            assert writing_until(settings.dbpath, lambda: pings[-1] > up, 60), "no heartbeat after the store came back"
            after = pings[-1] - up
            assert replication.wait_for_sync(30)
    assert first < 30
    assert len(during) <= 1 and all(seconds < 90 for seconds in during), f"pings while the store was down: {during}"
    print(f"heartbeat: first {first:.1f} s after the start, during the outage at {during} s, {after:.1f} s after it")
