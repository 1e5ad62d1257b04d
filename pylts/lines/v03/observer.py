"""litestream 0.3's replication, observed through its debug log (it has no control socket).

The observer has its tracker read positions from the log (`pylts.lines.v03.log.read_positions`):

>>> from pathlib import Path
>>> from pylts.output import parse_line
>>> tracker = SyncTracker([Path("/data/app.db")])
>>> observer = LogObserver({}, tracker)
>>> tracker.feed(parse_line("2026/11/22 12:49:58 DEBUG replica sync db=/data/app.db position=3ce1/00000000:8272"))
>>> observer.log_level, tracker.snapshot()[0].db_position
('debug', '3ce1/00000000:8272')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...events import SyncTracker
from ...health import DatabaseHealth, Unknown
from ...observers import Watched, judged, named_error, seconds_since
from .log import read_positions


class LogObserver:
    """Positions read from litestream's debug log."""

    log_level = "debug"
    commit_slack = 0.0  # litestream 0.3 writes the database itself at start and reports right after

    def __init__(self, contexts: Mapping[Path, Watched], tracker: SyncTracker) -> None:
        self.tracker = tracker
        tracker.read_positions(read_positions)
        self._contexts = dict(contexts)

    def config_section(self) -> str:
        return ""

    def before_run(self) -> None:
        pass

    def after_run(self) -> None:
        pass

    def poll(self) -> None:
        pass

    def wait_ready(self, since: float, timeout: float) -> bool:
        return self.tracker.wait(since=since, timeout=timeout)

    def wait_for_sync(self, last_commit: float, timeout: float) -> bool:
        return self.tracker.wait(since=last_commit, timeout=timeout, stop_on_error=False)

    def final_sync(self, seconds: float) -> str | None:
        return None  # litestream's shutdown sync and its log are the evidence on this line

    def health(self, running: bool) -> list[DatabaseHealth]:
        states: list[DatabaseHealth] = []
        for db in self.tracker.snapshot():
            if db.db_position is None and not named_error(self.tracker, db.path):
                reason = "litestream is not running" if not running else "litestream has not reported it yet"
                states.append(Unknown(path=db.path, reason=reason))
            else:
                ctx, since = self._contexts[db.path], seconds_since(db.synced_at)
                states.append(judged(self.tracker, ctx, db.db_position, db.replica_position, since))
        return states

    def close(self) -> None:
        pass
