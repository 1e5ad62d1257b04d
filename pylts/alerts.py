"""Alerts: a callback and/or a webhook, called once when a database stays failing too long, and once when it recovers.

`AlertWatcher` asks a health source (`Replicator.health`) every second from a thread of its own.
A database that stays `Failing` or `Restarting` for ``after`` seconds (``PYLTS_ALERT_AFTER``)
raises one ``failing`` alert; the first healthy state after it (`CaughtUp` or `Behind`) one
``recovered`` alert. A blip shorter than ``after`` raises none. `Unknown` changes nothing.

Alerts are delivered from another thread, so a slow receiver never holds the watcher, let
alone replication. The webhook (``PYLTS_ALERT_WEBHOOK``) gets a JSON POST (`Alert`) through
urllib with a timeout, tried `WEBHOOK_ATTEMPTS` times with `Backoff` between, then given up
and logged. Its URL is a secret (it usually carries the receiver's token): it is never logged.
The payload holds the database's path, state and error as health reports them, never a key.

>>> from pathlib import Path
>>> from pylts.health import CaughtUp, Failing
>>> watcher = AlertWatcher(lambda: [], after=30)
>>> failing = [Failing(path=Path("/srv/app.db"), error="403 Forbidden")]
>>> watcher.observe(failing, now=100.0), watcher.observe(failing, now=125.0)
([], [])
>>> [alert.event for alert in watcher.observe(failing, now=131.0)]
['failing']
>>> watcher.observe(failing, now=200.0)
[]
>>> [(a.event, a.database) for a in watcher.observe([CaughtUp(path=Path("/srv/app.db"))], now=201.0)]
[('recovered', '/srv/app.db')]
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from .errors import InvalidArgument, PyltsError
from .health import DatabaseHealth, Failing, Restarting, Unknown, health_summary
from .timing import ALERT_AFTER, ALERT_POLL, ALERT_STOP_GRACE, WEBHOOK_ATTEMPTS, WEBHOOK_TIMEOUT, Backoff

__all__ = ["Alert", "AlertWatcher"]

logger = logging.getLogger(__name__)


class Alert(BaseModel):
    """What a callback gets, and the webhook's JSON body: which database, what happened, since when."""

    model_config = ConfigDict(frozen=True)

    #: ``failing``: it has failed for ``after`` seconds; ``recovered``: it is healthy again after that.
    event: Literal["failing", "recovered"]
    database: str
    #: The health state now (``failing`` or ``restarting`` for a failing alert).
    state: str
    #: The state in words, with litestream's error (`pylts.health.health_summary`).
    summary: str
    #: The error health reported (None: none, as on recovery).
    error: str | None = None
    #: When the database was first seen failing.
    failing_since: datetime
    #: How long it had been failing when the alert was raised.
    failing_seconds: float
    #: When the alert was raised.
    at: datetime


class _Failure:
    def __init__(self, mono: float, wall: datetime) -> None:
        self.mono, self.wall, self.alerted = mono, wall, False


class AlertWatcher:
    """Watches ``health`` (a function giving each database's health) and alerts ``callback`` and/or ``webhook``.

    A context manager: watches from a background thread inside the ``with`` block.
    `observe` is the decision alone, for a caller that polls health itself.
    """

    def __init__(
        self,
        health: Callable[[], Sequence[DatabaseHealth]],
        *,
        after: float = ALERT_AFTER,
        callback: Callable[[Alert], object] | None = None,
        webhook: str | SecretStr | None = None,
        poll: float = ALERT_POLL,
        timeout: float = WEBHOOK_TIMEOUT,
    ) -> None:
        if not after >= 0:
            raise InvalidArgument(f"alert after {after!r} s: give a number of seconds, at least 0")
        hook = webhook.get_secret_value() if isinstance(webhook, SecretStr) else webhook
        if hook is not None and urlsplit(hook).scheme not in ("http", "https"):
            raise InvalidArgument("the alert webhook must be an http:// or https:// URL")
        self._health = health
        self._after = after
        self._callback = callback
        self._webhook = hook
        self._poll = poll
        self._timeout = timeout
        self._failures: dict[Path, _Failure] = {}
        self._outbox: queue.Queue[Alert | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._webhook_failed = False
        self._undelivered = 0  # raised and not yet handed to the callback and webhook
        self._lock = threading.Lock()
        #: Every alert raised so far, oldest first.
        self.raised: list[Alert] = []
        #: False once the watch ended on an unexpected error from ``health`` (logged with its traceback).
        self.watching = True

    def observe(self, states: Sequence[DatabaseHealth], now: float | None = None) -> list[Alert]:
        """The alerts ``states`` (health at monotonic time ``now``) raise; remembers who is failing since when."""
        now = time.monotonic() if now is None else now
        alerts: list[Alert] = []
        for state in states:
            failure = self._failures.get(state.path)
            if isinstance(state, (Failing, Restarting)):
                if failure is None:
                    failure = self._failures[state.path] = _Failure(now, datetime.now(timezone.utc))
                if not failure.alerted and now - failure.mono >= self._after:
                    failure.alerted = True
                    alerts.append(self._alert("failing", state, failure, now))
            elif not isinstance(state, Unknown) and failure is not None:
                del self._failures[state.path]
                if failure.alerted:
                    alerts.append(self._alert("recovered", state, failure, now))
        self.raised.extend(alerts)
        return alerts

    def _alert(
        self, event: Literal["failing", "recovered"], state: DatabaseHealth, failure: _Failure, now: float
    ) -> Alert:
        error = state.error if isinstance(state, (Failing, Restarting)) else None
        return Alert(
            event=event,
            database=str(state.path),
            state=state.state,
            summary=health_summary(state),
            error=error,
            failing_since=failure.wall,
            failing_seconds=round(now - failure.mono, 1),
            at=failure.wall + timedelta(seconds=now - failure.mono),
        )

    # -- the threads --------------------------------------------------------------------

    def start(self) -> AlertWatcher:
        for target, name in ((self._watch, "pylts-alert-watch"), (self._deliver, "pylts-alert-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info(
            "alerts after %g s of failing%s%s",
            self._after,
            f" to the webhook at {urlsplit(self._webhook).hostname}" if self._webhook else "",
            " and the callback" if self._callback else "",
        )
        return self

    def stop(self) -> None:
        """Stop watching; alerts still being delivered get `ALERT_STOP_GRACE` seconds, then are dropped (logged).

        Stopping comes before the final sync: a receiver that does not answer must not delay it.
        """
        self._stopping.set()
        self._outbox.put(None)
        deadline = time.monotonic() + ALERT_STOP_GRACE
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            dropped, self._undelivered = self._undelivered, 0
        if dropped:
            logger.warning(
                "alerts: %d alert%s not delivered within %g s of stopping, dropped",
                dropped,
                "" if dropped == 1 else "s",
                ALERT_STOP_GRACE,
            )

    def __enter__(self) -> AlertWatcher:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll):
            try:
                states = self._health()
            except (PyltsError, OSError) as exc:  # an outage (socket, store): the watch goes on
                logger.warning("alerts: could not read health: %s", exc)
                continue
            except Exception:  # a bug: said once, loudly, rather than warned about forever while no alert fires
                logger.exception("alerts: reading health raised an unexpected error; alerts are off from now on")
                self.watching = False
                return
            for alert in self.observe(states):
                with self._lock:
                    self._undelivered += 1
                self._outbox.put(alert)

    def _deliver(self) -> None:
        while (alert := self._outbox.get()) is not None:
            if self._stopping.is_set() and not self._undelivered:
                return  # stop gave up on it (and said so): the rest is dropped
            logger.warning("alert: %s %s: %s", alert.database, alert.event, alert.summary)
            if self._callback is not None:
                try:
                    self._callback(alert)
                except Exception:
                    logger.exception("the alert callback raised on the %s alert of %s", alert.event, alert.database)
            if self._webhook is not None:
                self._post(self._webhook, alert)
            with self._lock:
                self._undelivered = max(0, self._undelivered - 1)

    def _post(self, url: str, alert: Alert) -> None:
        body = json.dumps(alert.model_dump(mode="json")).encode()
        backoff = Backoff()
        problem = ""
        for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
            request = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "pylts"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                problem = type(exc).__name__ if isinstance(exc, ValueError) else str(getattr(exc, "reason", exc))
            if attempt < WEBHOOK_ATTEMPTS and not self._stopping.wait(backoff.next()):
                continue
            break
        host = urlsplit(url).hostname
        if not self._webhook_failed:  # logged once: a dead receiver does not fill the log
            self._webhook_failed = True
            logger.warning(
                "the alert webhook at %s did not take the %s alert of %s (%s); given up after %d tries",
                host,
                alert.event,
                alert.database,
                problem,
                WEBHOOK_ATTEMPTS,
            )
        else:
            logger.debug("the alert webhook at %s failed again (%s)", host, problem)
