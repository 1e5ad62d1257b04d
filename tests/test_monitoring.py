"""Metrics, the status page and alerts, driven as a user drives them: the ``pylts`` command, HTTP, a browser.

Every value a test reads from a scrape or the page is checked against the replica itself
(a restore) or against the fault the test caused (the store refusing, litestream killed).

With ``PYLTS_TEST_MONITORING_DOCS=docs/_generated`` the tests write what docs/monitoring.md
shows there (a scrape, the page's screenshots, an alert's payload); else into their tmp_path.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    PYLTS_COMMAND,
    derive,
    free_port,
    litestream_child,
    missing,
    read_rows,
    reaped,
    require,
    settings_env,
    wait_until,
    write_rows,
)

from pylts import ConfigS3
from pylts.errors import PyltsError
from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parents[1]
#: Read at import: the autouse clean_environment fixture removes PYLTS_ variables before each test.
DOCS_OUT = os.environ.get("PYLTS_TEST_MONITORING_DOCS")


def docs_folder(cfg: ConfigS3, tmp_path: Path) -> Path:
    """Where the tests write what the docs show: PYLTS_TEST_MONITORING_DOCS (on the docs' line), else tmp_path."""
    folder = ROOT / DOCS_OUT if DOCS_OUT and cfg.plan().line.has_txids else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def answers(url: str) -> bool:
    try:
        return get(url, timeout=2)[0] == 200
    except OSError:
        return False


@contextmanager
def replicating(cfg: ConfigS3, folder: Path, *args: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``pylts replicate --status-port P ARGS`` with ``cfg``'s settings; yields the process and the page's URL."""
    port = free_port()
    environment = settings_env(cfg, PYLTS_REPLICA_CHECK_INTERVAL="2s", **env)
    environment.pop("AWS_CA_BUNDLE", None)
    argv = [PYLTS_COMMAND, "-v", "replicate", "--status-port", str(port), *args]
    log = (folder / "pylts.log").open("w")
    process = subprocess.Popen(argv, env=environment, cwd=folder, stderr=log, stdout=log, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        with reaped(process):
            assert wait_until(lambda: answers(url), 60), (folder / "pylts.log").read_text()
            yield process, url
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    finally:
        log.close()


def restored_rows(cfg: ConfigS3, folder: Path) -> int:
    """How many rows a restore of the replica into ``folder`` holds now (0 when it cannot restore yet)."""
    copy = derive(cfg, folder=folder)
    try:
        copy.restore(overwrite=True)
    except PyltsError:
        return 0
    return len(read_rows(copy.dbpath))


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``GET url/metrics``, parsed by prometheus_client's own parser: {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    status, text = get(url + "metrics")
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def state_of(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], db: str) -> str | None:
    states = [dict(key[1])["state"] for key, v in samples.items() if key[0] == "pylts_health_state" and v == 1.0]
    assert len(states) <= 1, states
    return states[0] if states else None


_IDS = itertools.count(1000)


def writing_state(cfg: ConfigS3, url: str) -> str | None:
    """One more commit (an idle database on litestream 0.3 does not touch the store), then the scraped state."""
    write_rows(cfg.dbpath, 1, start=next(_IDS))
    return state_of(scrape(url), str(cfg.dbpath))


@pytest.mark.integration
@pytest.mark.slow
def test_metrics_scraped_during_replication_match_the_replica_and_an_outage(
    cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path
) -> None:
    """A day in small: writes proven in the replica, the store refusing, litestream killed; the scrape says each."""
    require("prometheus_client")
    db = str(cfg.dbpath)
    write_rows(cfg.dbpath, 10)
    with replicating(cfg, tmp_path) as (process, url):
        write_rows(cfg.dbpath, 40, start=10)
        written = time.time()
        assert wait_until(lambda: restored_rows(cfg, tmp_path / "copy") == 50), "the 50 rows never reached the replica"
        samples = scrape(url)
        assert state_of(samples, db) == "caught_up", samples
        since_sync = value(samples, "pylts_seconds_since_sync", database=db)
        assert since_sync is not None and since_sync < time.time() - written + 5, samples
        assert value(samples, "pylts_litestream_up") == 1.0
        assert value(samples, "pylts_restarts_total") == 0.0

        assert wait_until(
            lambda: (value(scrape(url), "pylts_replica_check_timestamp_seconds", database=db) or 0) > written, 30
        )
        samples = scrape(url)
        assert value(samples, "pylts_replica_check_ok", database=db) == 1.0
        latest = value(samples, "pylts_restore_latest_timestamp_seconds", database=db)
        if cfg.plan().line.has_txids:  # the replica's files carry times: the window is known, and restores
            earliest = value(samples, "pylts_restore_earliest_timestamp_seconds", database=db)
            assert earliest is not None and latest is not None and earliest <= latest
            listed = [
                item["LastModified"].timestamp()
                for page in local_s3._client().get_paginator("list_objects_v2").paginate(Bucket=cfg.s3.split("/")[2])
                for item in page.get("Contents", [])
                if item["Key"].endswith(".ltx")
            ]
            assert latest == max(listed) and earliest >= min(listed), (
                earliest,
                latest,
                listed,
            )  # the store's own times
            assert latest >= int(written)  # whole seconds: the newest file holds the 40 rows written at `written`
            at_latest = derive(cfg, folder=tmp_path / "at-latest")
            at_latest.restore(timestamp=datetime.fromtimestamp(latest, timezone.utc))  # a time the replica restores
            assert len(read_rows(at_latest.dbpath)) >= 10
        else:
            assert latest is None  # not known is left out, not given as 0

        local_s3.require_auth(True)  # the store refuses every request
        try:
            assert wait_until(lambda: writing_state(cfg, url) == "failing", 40), scrape(url)
        finally:
            local_s3.require_auth(False)
        assert wait_until(lambda: state_of(scrape(url), db) == "caught_up", 40), scrape(url)

        child = litestream_child(process.pid)
        assert child is not None
        os.kill(child, signal.SIGKILL)
        assert wait_until(lambda: value(scrape(url), "pylts_restarts_total") == 1.0, 30), scrape(url)
        assert wait_until(lambda: state_of(scrape(url), db) == "caught_up", 40), scrape(url)
        _, text = get(url + "metrics")
        (docs_folder(cfg, tmp_path) / "metrics.txt").write_text(
            text.replace(str(cfg.folder), "/srv/app").replace(str(tmp_path), "/srv")
        )
    assert process.returncode == 0, (tmp_path / "pylts.log").read_text()[-4000:]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: An app that commits a row every 0.2 s until SIGTERM (which pylts passes on), as a small web app would.
APP = """
import signal, sqlite3, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA busy_timeout = 5000")
conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
while True:
    conn.execute("INSERT INTO items (body) VALUES ('a request')")
    time.sleep(0.2)
"""


@contextmanager
def chromium() -> Iterator[Any]:
    """A page of the system's headless Chromium, driven by Playwright (never Playwright's own browser download)."""
    require("playwright")
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not found: apt-get install chromium (python3 tasks.py test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1100, "height": 560})
        finally:
            browser.close()


@pytest.mark.integration
@pytest.mark.slow
def test_the_status_page_in_a_real_browser_follows_an_outage_of_the_store(
    cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path
) -> None:
    """``pylts replicate --exec`` with an app writing; Chromium watches the page through a restart and an outage."""
    from playwright.sync_api import expect

    (tmp_path / "app.py").write_text(APP)
    write_rows(cfg.dbpath, 1)
    with chromium() as page, replicating(cfg, tmp_path, "--exec", f"python3 app.py {cfg.dbpath}") as (process, url):
        asked = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(url)
        badge = page.locator("td .state").first
        expect(badge).to_have_text("caught up", timeout=30_000)
        assert page.locator("script").count() == 0
        child = litestream_child(process.pid)
        assert child is not None
        os.kill(child, signal.SIGKILL)
        expect(page.get_by_text("killed by SIGKILL").first).to_be_visible(timeout=30_000)  # the meta refresh reloads
        expect(badge).to_have_text("caught up", timeout=60_000)

        local_s3.require_auth(True)  # the store refuses every request
        try:
            expect(badge).to_have_text("failing", timeout=60_000)
            page.screenshot(path=str(docs_folder(cfg, tmp_path) / "status-page-failing.png"), full_page=True)
        finally:
            local_s3.require_auth(False)
        expect(badge).to_have_text("caught up", timeout=60_000)
        assert restored_rows(cfg, tmp_path / "copy") > 1  # the app's rows reached the replica the page speaks of
        expect(page.get_by_text("whole").first).to_be_visible(timeout=30_000)  # a replica check after the outage
        page.screenshot(path=str(docs_folder(cfg, tmp_path) / "status-page.png"), full_page=True)
        assert asked and all(address.startswith(url) for address in asked), asked  # no external asset
    assert process.returncode == 0, (tmp_path / "pylts.log").read_text()[-4000:]


def check_mounted(base: str, db: Path) -> None:
    """The page, the metrics and the JSON under ``base``, each saying ``db`` is caught up; writes are refused."""
    status, page = get(base + "/")
    assert status == 200 and "<!doctype html>" in page and db.name in page and "caught up" in page, page
    samples = scrape(base + "/")
    assert state_of(samples, str(db)) == "caught_up", samples
    status, text = get(base + "/health.json")
    assert status == 200 and json.loads(text)["databases"][0]["health"]["state"] == "caught_up", text
    post = urllib.request.Request(base + "/", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(post, timeout=10)
    refused.value.close()
    assert refused.value.code == 405


@pytest.mark.integration
def test_the_status_page_mounted_in_a_starlette_app_under_uvicorn(cfg: ConfigS3, tmp_path: Path) -> None:
    """``Mount("/pylts", app=status_app())`` beside the app's routes, the replicator from the lifespan."""
    require("starlette", "uvicorn")
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    from pylts.integrations.asgi import lifespan, status_app

    write_rows(cfg.dbpath, 5)

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(lifespan=lifespan(cfg), routes=[Route("/", hello), Mount("/pylts", app=status_app())])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive(), 60) and server.started
        port = server.servers[0].sockets[0].getsockname()[1]
        assert get(f"http://127.0.0.1:{port}/") == (200, "hello")
        check_mounted(f"http://127.0.0.1:{port}/pylts", cfg.dbpath)
    finally:
        server.should_exit = True
        thread.join(timeout=90)
    assert not thread.is_alive()


@pytest.mark.integration
def test_the_status_page_mounted_in_a_flask_app_as_a_blueprint(cfg: ConfigS3, tmp_path: Path) -> None:
    """``app.register_blueprint(status_blueprint(replicator), url_prefix="/pylts")`` under werkzeug's real server."""
    require("flask")
    from flask import Flask
    from werkzeug.serving import make_server

    from pylts.integrations.flask import status_blueprint

    write_rows(cfg.dbpath, 5)
    with cfg.replicating() as replicator:
        app = Flask("shop")
        app.register_blueprint(status_blueprint(replicator), url_prefix="/pylts")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="werkzeug")
        thread.start()
        try:
            check_mounted(f"http://127.0.0.1:{server.server_port}/pylts", cfg.dbpath)
        finally:
            server.shutdown()
            thread.join(timeout=30)


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps each POST's path and JSON body."""

    def __init__(self, status: int = 200) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        received = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver")

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def events(self) -> list[str]:
        return [body["event"] for _, body in self.calls]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.long
def test_the_webhook_gets_one_failing_and_one_recovered_call_for_an_outage_and_none_for_a_blip(
    cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path
) -> None:
    """PYLTS_ALERT_AFTER=25s: a refusal shorter than that raises nothing; a longer one one alert each way.

    Timing is judged by the alerts' own fields (failing_seconds, at - failing_since) and by counts, never by when
    this test saw things happen: on a loaded machine the test's clock lags, the watcher's does not.
    """
    after = 25.0  # far above a blip's length (the refusal ends as soon as health says failing: a few seconds)
    token = "hook-token-5f2a"
    db = str(cfg.dbpath)
    write_rows(cfg.dbpath, 3)
    with (
        Receiver() as receiver,
        replicating(
            cfg, tmp_path, PYLTS_ALERT_WEBHOOK=f"{receiver.url}/hooks/{token}", PYLTS_ALERT_AFTER=f"{after:g}s"
        ) as (_, url),
    ):
        local_s3.require_auth(True)  # a blip: refused until health says failing, then accepted again at once
        try:
            assert wait_until(lambda: writing_state(cfg, url) == "failing", 40), scrape(url)
            blip_began = time.monotonic()
        finally:
            local_s3.require_auth(False)
        assert wait_until(lambda: writing_state(cfg, url) == "caught_up", 40), scrape(url)
        # Past the threshold counted from when the blip began (the watcher saw it fail no later than this test
        # did): a late test only waits longer. Still no alert.
        time.sleep(max(0.0, blip_began + after + 2 - time.monotonic()))
        assert receiver.calls == []

        local_s3.require_auth(True)  # an outage longer than PYLTS_ALERT_AFTER
        try:
            assert wait_until(lambda: writing_state(cfg, url) == "failing", 40), scrape(url)
            assert wait_until(lambda: receiver.events() == ["failing"], after + 40), receiver.calls
            time.sleep(3)
        finally:
            local_s3.require_auth(False)
        assert wait_until(lambda: receiver.events() == ["failing", "recovered"], 60), receiver.calls
        time.sleep(3)
        assert receiver.events() == ["failing", "recovered"]  # once each, not again
        assert state_of(scrape(url), db) == "caught_up"
    # The exit status is not this test's subject: after this many commits litestream 0.3 was seen (1 run in 4, two
    # at once) to end with "checkpoint: ... context canceled", which pylts reports as a failed final sync (exit 1).
    failing, recovered = (body for _, body in receiver.calls)
    assert failing["database"] == db and failing["state"] == "failing" and failing["error"], failing
    since = datetime.fromisoformat(failing["failing_since"])
    assert datetime.fromisoformat(failing["at"]) - since >= timedelta(seconds=after), failing  # not before its time
    assert after <= failing["failing_seconds"] < 2 * after, failing  # once the threshold passed, not a period late
    assert recovered["failing_since"] == failing["failing_since"], recovered  # the same outage ended
    assert recovered["failing_seconds"] > failing["failing_seconds"]
    assert recovered["state"] in ("caught_up", "behind") and recovered["error"] is None  # syncing again
    assert all(path == f"/hooks/{token}" for path, _ in receiver.calls)
    assert cfg.token is not None
    said = json.dumps(receiver.calls) + (tmp_path / "pylts.log").read_text()
    assert cfg.token.get_secret_value() not in said  # the secret key is never in a payload or the log
    assert token not in (tmp_path / "pylts.log").read_text()  # nor is the webhook's URL, which carries its token
    (docs_folder(cfg, tmp_path) / "alert-payload.json").write_text(
        json.dumps(failing, indent=2).replace(str(cfg.folder), "/srv/app") + "\n"
    )


def test_a_webhook_that_fails_is_tried_a_few_times_logged_once_and_never_holds_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A receiver answering 500: each alert is tried WEBHOOK_ATTEMPTS times, the failure logged once, the callback
    still called, and the watcher keeps deciding (and stops) while the webhook fails."""
    from pylts.alerts import AlertWatcher
    from pylts.health import CaughtUp, DatabaseHealth, Failing
    from pylts.timing import WEBHOOK_ATTEMPTS

    states: list[DatabaseHealth] = [Failing(path=Path("/srv/app.db"), error="403 Forbidden")]
    called: list[str] = []
    with Receiver(status=500) as receiver, caplog.at_level("DEBUG", logger="pylts.alerts"):
        watcher = AlertWatcher(
            lambda: states,
            after=0.2,
            poll=0.05,
            webhook=f"{receiver.url}/t/secret-part",
            callback=lambda a: called.append(a.event),
        )
        with watcher:
            assert wait_until(lambda: called == ["failing"], 10)
            states[:] = [CaughtUp(path=Path("/srv/app.db"))]
            assert wait_until(lambda: called == ["failing", "recovered"], 10)
            assert wait_until(lambda: len(receiver.calls) == 2 * WEBHOOK_ATTEMPTS, 20), receiver.calls
    given_up = [r for r in caplog.records if "did not take" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelname == "WARNING", caplog.text
    assert "HTTP 500" in given_up[0].getMessage() and "secret-part" not in caplog.text
    assert [body["event"] for _, body in receiver.calls] == ["failing"] * WEBHOOK_ATTEMPTS + [
        "recovered"
    ] * WEBHOOK_ATTEMPTS


def test_stopping_the_watcher_does_not_wait_for_a_webhook_receiver_that_never_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A receiver that accepts the connection and never answers (a black hole, likely in the same outage): stop
    returns within a couple of seconds, so the final sync after it still fits in a container's grace period, and
    the alert left undelivered is dropped with one log line."""
    import socket

    from pylts.alerts import AlertWatcher
    from pylts.health import Failing
    from pylts.timing import ALERT_STOP_GRACE

    states = [Failing(path=Path("/srv/app.db"), error="403 Forbidden")]
    with socket.create_server(("127.0.0.1", 0)) as hole, caplog.at_level("INFO", logger="pylts.alerts"):
        # Never accepted: the kernel completes the connection, the request is sent, no answer ever comes.
        watcher = AlertWatcher(
            lambda: states, after=0.0, poll=0.05, webhook=f"http://127.0.0.1:{hole.getsockname()[1]}/hook"
        )
        watcher.start()
        assert wait_until(lambda: len(watcher.raised) == 1, 10)
        time.sleep(0.3)  # the POST is on its way and hangs
        began = time.monotonic()
        watcher.stop()
        took = time.monotonic() - began
    assert took <= ALERT_STOP_GRACE + 1.0, f"stop took {took:.1f} s"
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and "1 alert" in dropped[0].getMessage(), caplog.text


def test_a_programming_error_in_health_is_logged_once_with_its_traceback_and_stops_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A health source raising TypeError is a bug, not an outage: one ERROR with the traceback, and the watch
    ends (visibly) instead of warning once a second forever while alerts silently never fire."""
    from pylts.alerts import AlertWatcher

    calls: list[int] = []

    def broken() -> list[Any]:
        calls.append(1)
        raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'float'")

    with caplog.at_level("DEBUG", logger="pylts.alerts"), AlertWatcher(broken, after=0.0, poll=0.05) as watcher:
        assert wait_until(lambda: calls, 10)
        time.sleep(0.5)  # ten more polls, were it still watching
    records = [r for r in caplog.records if "health" in r.getMessage()]
    assert len(calls) == 1 and len(records) == 1, caplog.text
    assert records[0].levelname == "ERROR" and records[0].exc_info is not None
    assert not watcher.watching


def test_an_outage_while_reading_health_is_logged_and_the_watch_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    """OSError or a PyltsError from health() is an expected outage: warned about, and the watch keeps asking."""
    from pylts.alerts import AlertWatcher

    calls: list[int] = []

    def flaky() -> list[Any]:
        calls.append(1)
        raise PyltsError("the control socket did not answer") if len(calls) % 2 else OSError("connection refused")

    with caplog.at_level("DEBUG", logger="pylts.alerts"), AlertWatcher(flaky, after=0.0, poll=0.05) as watcher:
        assert wait_until(lambda: len(calls) >= 4, 10)
        assert watcher.watching
    assert all(r.levelname == "WARNING" for r in caplog.records if "health" in r.getMessage()), caplog.text


@pytest.mark.integration
def test_a_busy_status_port_is_refused_before_anything_runs(cfg: ConfigS3, tmp_path: Path) -> None:
    """Exit 2 with the port and the fix, no litestream started, no database restored or created."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = settings_env(cfg)
        env.pop("AWS_CA_BUNDLE", None)
        result = subprocess.run(
            [PYLTS_COMMAND, "replicate", "--status-port", str(port)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "choose another port" in result.stderr, result.stderr
    assert not cfg.folder.exists() or not any(cfg.folder.iterdir())
