"""What replication costs in requests: the local S3 server's own request log, counted by kind and priced.

The benchmark's moto server (`benchmarks.harness.s3_server`) runs in a process of its own and
writes one line per request it answers to a log file (werkzeug's request log, which moto's server
keeps anyway, sent to a file instead of the terminal). Nothing sits between litestream and the
server, so what is counted is what a store would bill. Each subject replicates to a bucket of its
own, so one window measures all of them side by side: a request is attributed by its bucket.

    python -m benchmarks --only requests    # idle requests: bare litestream, pylts, low-cost
    python -m benchmarks --only secondary   # the requests of each snapshot to a second destination
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pylts import ConfigS3
from pylts.binary import locate
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3

from .harness import table_row
from .supervision import bare_litestream, empty_database, supervised
from .targets import check

#: Where the server process writes its request log, inside the benchmark's work folder.
REQUEST_LOG = "s3-requests.log"
KINDS = ("LIST", "PUT", "GET", "DELETE", "other")

#: Request list prices in US dollars per 1,000 requests, by kind, without free tiers (storage and
#: egress are not counted). Read on 2026-12-05 from:
#: - S3 Standard, us-east-1: https://aws.amazon.com/s3/pricing/ (PUT, COPY, POST, LIST $0.005;
#:   GET, HEAD $0.0004; DELETE free)
#: - Cloudflare R2 Standard: https://developers.cloudflare.com/r2/pricing/ (Class A: ListObjects,
#:   PutObject... $4.50 per million; Class B: GetObject, HeadObject $0.36 per million; DeleteObject free)
#: - Backblaze B2: https://www.backblaze.com/cloud-storage/transaction-pricing (Class A: uploads,
#:   deletes, free; Class B: GetObject, HeadObject $0.004 per 10,000; Class C: ListObjects $0.004 per
#:   1,000; the first 2,500 Class B and 2,500 Class C calls of each day free)
#: "other" (bucket calls, multipart bookkeeping) is priced like a PUT.
PRICES_READ_ON = "2026-12-05"
PRICES: dict[str, dict[str, float]] = {
    "S3": {"LIST": 0.005, "PUT": 0.005, "GET": 0.0004, "DELETE": 0.0, "other": 0.005},
    "R2": {"LIST": 0.0045, "PUT": 0.0045, "GET": 0.00036, "DELETE": 0.0, "other": 0.0045},
    "B2": {"LIST": 0.004, "PUT": 0.0, "GET": 0.0004, "DELETE": 0.0, "other": 0.0},
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def classify(request_line: str) -> tuple[str, str] | None:
    """The bucket and the kind of one request (``"GET /bkt/key HTTP/1.1"``); None for moto's own API.

    >>> classify("GET /bkt?list-type=2&prefix=app.db%2F0000%2F HTTP/1.1")
    ('bkt', 'LIST')
    >>> classify("PUT /bkt/app.db/0000/0000000000000001-0000000000000001.ltx HTTP/1.1")
    ('bkt', 'PUT')
    >>> classify("POST /bkt?delete HTTP/1.1"), classify("HEAD /bkt/app.db/x HTTP/1.1")
    (('bkt', 'DELETE'), ('bkt', 'GET'))
    >>> classify("POST /moto-api/reset HTTP/1.1") is None
    True
    """
    parts = _ANSI.sub("", request_line).split()
    if len(parts) < 2:
        return None
    method, target = parts[0].upper(), parts[1]
    url = urllib.parse.urlsplit(target)
    bucket, _, key = url.path.lstrip("/").partition("/")
    if not bucket or bucket.startswith("moto-api"):
        return None
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if method in ("GET", "HEAD") and key:
        kind = "GET"
    elif method == "GET":
        listing = not query or bool({"list-type", "prefix", "delimiter", "continuation-token", "marker"} & set(query))
        kind = "LIST" if listing else "other"
    elif method == "PUT" and key:
        kind = "PUT"
    elif method == "POST":
        kind = "DELETE" if "delete" in query else "PUT" if key else "other"
    elif method == "DELETE" and key:
        kind = "DELETE"
    else:
        kind = "other"
    return bucket, kind


class RequestLogHandler(logging.FileHandler):
    """werkzeug's request log, one request line per line (no address, no time), written as each is answered."""

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        assert isinstance(record.args, tuple)
        return _ANSI.sub("", str(record.args[0]))


def serve(log: Path) -> None:
    """The server process: moto on a free port (printed), its requests logged to ``log``, until stdin closes."""
    s3 = LocalS3()  # it quiets werkzeug's log: the handler and level come after, before the first request
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(RequestLogHandler(log))
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    s3.start()
    print(s3.port, flush=True)
    sys.stdin.read()
    s3.stop()


def counts(log: Path, start: int = 0, end: int | None = None) -> dict[str, Counter[str]]:
    """Requests per bucket and kind in the log between byte offsets ``start`` and ``end``."""
    with log.open("rb") as file:
        file.seek(start)
        text = file.read(None if end is None else end - start).decode(errors="replace")
    found: dict[str, Counter[str]] = {}
    for line in text.splitlines():
        classified = classify(line)
        if classified:
            found.setdefault(classified[0], Counter())[classified[1]] += 1
    return found


def per_month(per_minute: dict[str, float], provider: str) -> float:
    """US dollars a month (30 days) for requests at ``per_minute`` (by kind) at ``provider``'s list prices.

    >>> round(per_month({"LIST": 10.0}, "S3"), 2)
    2.16
    """
    return sum(rate * 60 * 24 * 30 / 1000 * PRICES[provider][kind] for kind, rate in per_minute.items())


@dataclass(frozen=True)
class Subject:
    """One way of replicating an idle database, in its own bucket."""

    label: str
    bucket: str
    settings: dict[str, str]  # pylts settings; empty with bare=True
    bare: bool = False


#: The low-cost mode's idle requests per minute, held to this over a window that sees its 5-minute checks.
LOW_COST_LIMIT, LOW_COST_WINDOW = 1.0, 600

#: litestream 0.3.13 for the legacy line's subject, found as the tests find it (``python3 tasks.py bench`` unpacks
#: it); without it, no such row.
LEGACY_LITESTREAM = os.environ.get("PYLTS_TEST_LITESTREAM_03")

SUBJECTS = (
    Subject("bare `litestream replicate`", "idle-bare", {}, bare=True),
    *(
        [Subject("`pylts replicate` on litestream 0.3.13", "idle-legacy", {"litestream_bin": LEGACY_LITESTREAM})]
        if LEGACY_LITESTREAM
        else []
    ),
    Subject("`pylts replicate` (defaults)", "idle-pylts", {}),
    Subject("`pylts replicate`, `PYLTS_COST_PROFILE=low`", "idle-low", {"cost_profile": "low"}),
)


@contextlib.contextmanager
def _running(s3: LocalS3, subject: Subject, work: Path) -> Iterator[None]:
    db = empty_database(work / subject.bucket / "idle.db")
    if subject.bare:
        with bare_litestream(s3, db, bucket=subject.bucket):
            yield
    else:
        with supervised(s3, db, bucket=subject.bucket, **subject.settings):
            yield


def _wait_for_put(log: Path, bucket: str, timeout: float = 60) -> None:
    """Until ``bucket`` got its first upload (the snapshot litestream writes at start)."""
    give_up = time.monotonic() + timeout
    while counts(log).get(bucket, Counter())["PUT"] == 0:
        if time.monotonic() > give_up:
            raise RuntimeError(f"no upload to {bucket} within {timeout:g} s")
        time.sleep(0.2)


def idle_requests(s3: LocalS3, seconds: float, work: Path, *, warmup: float = 0.0) -> list[str]:
    """Requests of an idle database under each subject, counted over one window of ``seconds``.

    The window opens ``warmup`` seconds after each uploaded its first snapshot (and 2 s more):
    past the compactions of the start's files, it shows what a day of idling costs.
    """
    log = work / REQUEST_LOG
    for subject in SUBJECTS:
        s3.create_bucket(subject.bucket)
    with contextlib.ExitStack() as running:
        for subject in SUBJECTS:
            running.enter_context(_running(s3, subject, work))
        for subject in SUBJECTS:
            _wait_for_put(log, subject.bucket)
        time.sleep(2 + warmup)  # the start's last requests answered, and its compactions done
        start, began = log.stat().st_size, time.monotonic()
        time.sleep(seconds)
        end, elapsed = log.stat().st_size, time.monotonic() - began
    found = counts(log, start, end)
    minutes = elapsed / 60
    rows = [
        f"An idle database (one table, no writes) for {elapsed:.0f} s, from {warmup + 2:.0f} s after its first "
        f"snapshot, litestream {locate().version}; "
        f"requests counted in the S3 server's own log. Prices: list prices read on {PRICES_READ_ON}, requests "
        "only, no free tier (`benchmarks/requests.py`).",
        "",
        table_row(*("subject", *KINDS, "per minute", "per day", "S3 $/month", "R2 $/month", "B2 $/month")),
        table_row(*["---"] * (len(KINDS) + 6)),
    ]
    totals: dict[str, float] = {}
    for subject in SUBJECTS:
        counted = found.get(subject.bucket, Counter())
        rate = {kind: counted[kind] / minutes for kind in KINDS}
        totals[subject.label] = sum(rate.values())
        rows.append(
            table_row(
                subject.label,
                *(counted[kind] for kind in KINDS),
                f"**{totals[subject.label]:.2f}**",
                f"{totals[subject.label] * 1440:,.0f}",
                *(f"${per_month(rate, provider):.2f}" for provider in PRICES),
            )
        )
        print(rows[-1], flush=True)
    bare = totals[SUBJECTS[0].label]
    if elapsed >= LOW_COST_WINDOW:
        check(f"idle requests per minute, {SUBJECTS[-1].label}", totals[SUBJECTS[-1].label], LOW_COST_LIMIT, "")
    rows += ["", "Idle requests per minute against bare litestream:"]
    rows += [f"- {label}: {ratio(total, bare)}" for label, total in list(totals.items())[1:]]
    rows += ["", "What `pylts contents` and `pylts doctor` say each pylts subject costs, against the count above:"]
    for subject in SUBJECTS[1:]:
        said = _settings(s3, subject).idle_requests()
        rows.append(f"- {subject.label}: measured {totals[subject.label] * 1440:,.0f} a day; pylts says {said}")
    return rows


def _settings(s3: LocalS3, subject: Subject) -> ConfigS3:
    """The settings `supervised` gives ``subject``'s replicator."""
    url = f"s3://{subject.bucket}/pylts.db"
    return ConfigS3(_env_file=None, key=ACCESS_KEY, token=SECRET_KEY, s3=url, endpoint=s3.endpoint, **subject.settings)


#: Snapshots taken to the second destination in the count, and how many it keeps (so the last ones prune).
SNAPSHOTS, SNAPSHOTS_KEPT = 5, 2


def secondary_requests(s3: LocalS3, work: Path, rows: int = 5000) -> list[str]:
    """Requests of each snapshot to a second destination (`pylts.secondary`), counted in the server's log."""
    from pylts.deadline import Deadline
    from pylts.secondary import take_snapshot  # the benchmark's other sections need none of it
    from pylts.timing import SECONDARY_INTERVAL

    log = work / REQUEST_LOG
    for bucket in ("snap-main", "snap-copies"):
        s3.create_bucket(bucket)
    cfg = s3.config(
        "snap-main",
        "app.db",
        db="app.db",
        folder=work / "secondary",
        secondary_url="s3://snap-copies/app.db",
        secondary_keep=SNAPSHOTS_KEPT,
    )
    empty_database(cfg.dbpath)
    with contextlib.closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
        conn.executemany("INSERT INTO notes VALUES (?)", (("x" * 200,) for _ in range(rows)))
    counted: list[Counter[str]] = []
    for _ in range(SNAPSHOTS):
        start = log.stat().st_size
        snapshot = take_snapshot(cfg.plan(), Deadline(60), keep=SNAPSHOTS_KEPT)
        time.sleep(0.5)  # its last requests logged
        counted.append(counts(log, start).get("snap-copies", Counter()))
        assert not counts(log, start).get("snap-main"), "a snapshot must not touch the primary"
    per_day = 86400 / SECONDARY_INTERVAL
    steady = counted[-1]  # once older snapshots are pruned: what every later one costs
    rate = {kind: steady[kind] * per_day / 1440 for kind in KINDS}
    lines = [
        f"{SNAPSHOTS} snapshots of a {cfg.dbpath.stat().st_size / 1e6:.1f} MB database ({rows:,} rows; "
        f"{snapshot.size / 1e6:.2f} MB in each snapshot, compressed by litestream) to a second bucket, "
        f"{SNAPSHOTS_KEPT} kept, litestream {locate().version}; requests counted in the S3 server's own log, "
        "to the second bucket (the primary's got none).",
        "",
        table_row("snapshot", *KINDS, "total"),
        table_row(*["---"] * (len(KINDS) + 2)),
    ]
    for number, found in enumerate(counted, 1):
        lines.append(table_row(str(number), *(found[kind] for kind in KINDS), str(sum(found.values()))))
    lines += [
        "",
        f"At the default interval ({SECONDARY_INTERVAL / 3600:g} h, {per_day:g} snapshots a day): "
        f"**{sum(steady.values()) * per_day:,.0f} requests a day**; "
        + ", ".join(f"${per_month(rate, provider):.4f} a month at {provider}" for provider in PRICES)
        + " (requests only; storage: the kept snapshots' bytes).",
    ]
    print("\n".join(lines), flush=True)
    return lines


def ratio(ours: float, bare: float) -> str:
    """``ours`` as a multiple of ``bare``, bold.

    >>> ratio(1.0, 10.0), ratio(1.0, 0.0)
    ('**0.10×**', 'n/a (bare: 0)')
    """
    return f"**{ours / bare:.2f}×**" if bare else "n/a (bare: 0)"


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
