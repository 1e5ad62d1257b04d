"""Every timing constant of pylts in one place, each with its reason, and the one rule for time.

The rule (docs/time.md says the same, with examples):

1. A ``timeout`` is a deadline for the whole call, counted from the moment it is called:
   probing the store, listing, restoring, syncing and checking all share it. It is never
   silently extended.
2. When it runs out, each call says so in one way, the same every time:

   - ``timed_replicate`` returns ``False`` (as pylts 0.0.9 did); if the backup was done but
     confirming it before deleting the database ran out of time, `BackupNotConfirmed` is
     raised and nothing is deleted;
   - ``verify`` returns a `VerifyResult` with ``status="lagging"``;
   - ``Replicator.wait_for_sync`` returns ``False``;
   - ``get_result_on_timeout`` returns what litestream printed (stopping it is its job);
   - ``restore``, ``restore_report``, ``ensure_restored``, ``replica_contents`` and
     ``Replicator.start`` (``with replicating()``, ``run_app``) raise `LitestreamTimeout`.

   A cause pylts can name (bucket missing, credentials refused, store unreachable, database
   locked) is raised as its own error instead, as soon as it is known, within the deadline.
3. Cleanup after the deadline is bounded and the only extension: a litestream still running
   when time runs out gets `ONE_SHOT_STOP_GRACE` to stop before it is killed, and the store is
   probed once more for up to `REPROBE_SECONDS`, so the error names the cause when the store went
   away. A call therefore ends at most `TIMEOUT_CLEANUP_SECONDS` after its deadline (``verify``
   also removes its sentinel row, waiting at most `BUSY_TIMEOUT` for SQLite's write lock).
4. ``Replicator.stop()`` (the end of a ``with replicating()`` block) has no caller deadline:
   on litestream 0.5 a last sync confirmed through the control socket gets ``stop_timeout``,
   litestream's final sync then gets ``stop_timeout`` (plus `SHUTDOWN_MARGIN` to exit), then on
   litestream 0.5 the one-shot sync and the replica check get `STOP_CHECK_SECONDS`.

``pylts/guard.py`` keeps its own two constants: it runs as a standalone script (``python -I``)
that imports nothing of pylts.

>>> TIMEOUT_CLEANUP_SECONDS
1.5
"""

from __future__ import annotations

import math

# -- defaults of the public calls ---------------------------------------------------------------

#: Default deadline of ``restore()`` and ``ensure_restored()`` (``pylts restore --timeout``): a 10 GB download.
RESTORE_TIMEOUT = 600.0
#: Default deadline of ``verify()``: a sentinel row reaches a replica within seconds when replication runs.
VERIFY_TIMEOUT = 60.0
#: Default deadline of ``replica_contents()`` (``pylts contents``): one listing.
LISTING_TIMEOUT = 60.0
#: Default deadline of ``pylts replicate --once``: one sync of a database.
BACKUP_TIMEOUT = 60.0
#: Default of ``Replicator.wait_for_sync()``: litestream uploads about once a second.
WAIT_FOR_SYNC_TIMEOUT = 30.0

#: Default of ``PYLTS_SECONDARY_INTERVAL``: a second copy an hour bounds what a lost primary costs to an hour of
#: writes, for two or three requests an hour (one PUT, one LIST, DELETEs of the snapshot past the kept ones).
SECONDARY_INTERVAL = 3600.0
#: Longest a snapshot to the second destination may take (copy, one-shot upload, listing): a 1 GB upload at 5 MB/s
#: takes about 200 s; a snapshot that runs out is reported failed and the next one is tried on schedule.
SECONDARY_SNAPSHOT_TIMEOUT = 600.0
#: How long stopping replication waits, in all, for the snapshots to the second destination still running: a stop
#: ends their one-shot litestream at once (about ONE_SHOT_STOP_GRACE); the primary's final sync must not wait on the
#: second store (a listing or delete that hangs is ended by the snapshot's own deadline).
SECONDARY_STOP_WAIT = 5.0

# -- talking to the store -----------------------------------------------------------------------

#: Longest wait for the endpoint to accept a TCP connection before a run (litestream would retry for ~2 min).
PROBE_SECONDS = 3.0
#: Longest wait for the store to accept a connection again after a run timed out (to name the cause).
REPROBE_SECONDS = 0.5
#: Seconds the watchdog waits for the store to answer before it counts it as silent.
ANSWER_SECONDS = 2.0
#: Seconds the store must have been answering before a restart: litestream catches up by itself after an outage.
STORE_BACK_SECONDS = 10.0

# -- stopping processes -------------------------------------------------------------------------

#: Seconds a timed-out one-shot litestream (restore, listing, ``-once``) gets to stop: it has no final sync.
ONE_SHOT_STOP_GRACE = 1.0
#: The most a call may end after its deadline: stopping a timed-out litestream, then probing the store again.
TIMEOUT_CLEANUP_SECONDS = ONE_SHOT_STOP_GRACE + REPROBE_SECONDS
#: Seconds a long-running litestream gets to stop by default: its 30 s shutdown sync, and time to exit.
LITESTREAM_STOP_GRACE = 35.0
#: Seconds the app run under replication (``--exec``) gets after SIGTERM before it is killed.
APP_STOP_GRACE = 30.0
#: Seconds a stuck litestream gets to stop before it is killed, when the watchdog restarts it.
STUCK_STOP_GRACE = 2.0
#: Seconds litestream gets to exit after its shutdown sync timed out (``stop_timeout``) before it is killed.
SHUTDOWN_MARGIN = 5.0
#: Seconds a litestream that did not start gets to stop: nothing was synced, so no final sync is waited for.
FAILED_START_STOP_GRACE = 1.0
#: Seconds a failed start may list the store to tell whether litestream's first local position reached it.
FAILED_START_LISTING = 3.0
#: Seconds a reader thread may take to read what is left in a pipe once its process ended.
READER_JOIN_SECONDS = 5.0

# -- Replicator -----------------------------------------------------------------------------------

#: Default ``stop_timeout``: litestream's own default ``shutdown-sync-timeout``.
STOP_TIMEOUT = 30.0
#: The first sync may take this long, plus ``SECONDS_PER_MB`` for each MB of the databases (when no timeout is set).
READY_BASE_SECONDS = 30.0
#: Upload allowance per MB of database (first sync) or of WAL (stall): 0.5 s, a link of at least 2 MB/s.
SECONDS_PER_MB = 0.5
#: A commit the replica does not hold after this many seconds is a stall: reported, and litestream restarted.
STALL_TIMEOUT = 30.0
#: Seconds the one-shot sync and replica check after the final sync may take (all databases together).
STOP_CHECK_SECONDS = 30.0
#: Seconds a started litestream may take to say it replicates: a stop signal before that skips its final sync.
REPLICATING_WAIT_SECONDS = 5.0
#: The first wait before restarting a litestream that exited, doubled after each run that never synced.
FIRST_BACKOFF = 0.5
#: Default ``max_backoff`` (``PYLTS_MAX_BACKOFF``): the longest wait before restarting a litestream that keeps failing.
#: While it waits, commits reach no replica: 10 s keeps that added loss window to about ten sync intervals, at the
#: cost of at most six failed starts (a few requests each) a minute. A run that synced restarts after FIRST_BACKOFF.
MAX_BACKOFF = 10.0
#: How far a file's modification time may lag the write: Linux stamps it from a clock that ticks every 1-10 ms.
MTIME_GRANULARITY = 0.02
#: litestream's own default ``sync-interval`` (both lines), when ``sync_interval`` is not set.
DEFAULT_SYNC_INTERVAL = 1.0
#: ``health()`` says `Behind` once the oldest commit missing from the replica is this many sync intervals old...
BEHIND_SYNC_INTERVALS = 3
#: ...and at least this many seconds: a commit is confirmed one to two seconds after it is made (measured at 1 row/s).
BEHIND_SECONDS = 5.0
#: How long the litestream started after a pause for fresh snapshots may take to confirm a sync of every database
#: before `Replicator.health()` stops repeating what it said before the pause (and says what this one reports).
PAUSE_SECONDS = 10.0
#: How often the watchdog looks for a stall.
WATCHDOG_INTERVAL = 1.0
#: Seconds between two looks at each database's health to say its changes (`Replicator`, when INFO is shown):
#: health() asks the control socket more than the watchdog's poll and, while a database is behind, the store.
HEALTH_SAY_INTERVAL = 5.0
#: How often the supervisor looks whether litestream exited or a stop was asked for, and a start whether supervision
#: still runs.
SUPERVISOR_POLL = 0.2
#: How often a wait for a lock, or for litestream to say it replicates, looks again.
LOCK_POLL = 0.05
#: ``verify()``'s first wait between two looks at the replica for its sentinel, doubled up to `VERIFY_MAX_WAIT`.
VERIFY_FIRST_WAIT = 0.2
VERIFY_MAX_WAIT = 2.0
#: Default ``PYLTS_REPLICA_CHECK_INTERVAL``: how often the replica itself is listed while replicating. A wiped or
#: gapped replica is then noticed within 2 minutes (one interval plus one check); one check is one LIST request
#: per 1,000 files of the replica (docs/reliability.md gives the cost per day).
REPLICA_CHECK_INTERVAL = 60.0
#: ``PYLTS_COST_PROFILE=low``'s interval of the checks an idle database pays for: litestream's L0 retention check
#: (``l0-retention-check-interval``, 15 s by default: one or two LISTs each) and pylts' replica check (one LIST).
#: Five minutes bring an idle database under one request a minute (docs/benchmarks.md); a wiped replica is then
#: noticed within 10 minutes, and L0 files compacted into L1 are deleted up to 5 minutes later than due.
LOW_COST_CHECK_INTERVAL = 300.0
#: Longest one check of the replica (one listing) may take: past it, it is counted as failed and tried again.
REPLICA_CHECK_SECONDS = 30.0
#: litestream 0.5's own default ``l0-retention-check-interval``, in force when ``PYLTS_L0_RETENTION_CHECK_INTERVAL``
#: is not set (pylts then passes none): what ``pylts doctor`` counts an idle database's L0 retention LISTs by.
L0_RETENTION_CHECK_INTERVAL = 15.0
#: litestream 0.5's default compaction intervals of levels 2 and 3 (pylts configures no ``levels``): even while a
#: database is idle, each lists the level below once an interval (`pylts.lines.v05.V05.idle_lists`).
COMPACTION_L2_INTERVAL, COMPACTION_L3_INTERVAL = 300.0, 3600.0

# -- litestream 0.5's control socket (pylts.lines.v05.control, pylts.lines.v05.observer) ----------------------

#: Client deadline of a question to the control socket: it answers in milliseconds, even while a sync hangs.
CONTROL_ANSWER_SECONDS = 2.0
#: While a wait for a commit is pending, the replica's level 0 is listed at most this often (one LIST of one key):
#: about 0.1 s of its own answer on a local store, and a bound on the requests a waiting caller costs (5 a second).
SYNC_PROOF_LIST_INTERVAL = 0.2
#: A replica with no successful sync for this long (litestream syncs every second) makes ``health()`` ask the store.
SLOW_SYNC_SECONDS = 3.0

# -- local SQLite locks ---------------------------------------------------------------------------

#: SQLite busy timeout for pylts' own short writes and checkpoints: an app's transaction ends within it.
BUSY_TIMEOUT = 5.0
#: SQLite busy timeout of ``restore(overwrite=True)``'s check that nobody writes: refuse early, before downloading.
RESTORE_BUSY_TIMEOUT = 2.0

# -- litestream itself ----------------------------------------------------------------------------

#: Longest ``litestream version`` may take when pylts finds the executable.
VERSION_TIMEOUT = 15.0
#: Longest ``sync_interval`` (``PYLTS_SYNC_INTERVAL``): waits for the replica above count on a few intervals fitting.
MAX_SYNC_INTERVAL = 10.0
#: Shortest ``heartbeat_interval`` litestream 0.5 takes (its ``MinHeartbeatInterval``).
MIN_HEARTBEAT_INTERVAL = 60.0

# -- following a replica (pylts.follow) --

#: Seconds between litestream's polls of the replica (its ``-follow-interval``).
FOLLOW_INTERVAL = 1.0
#: Seconds the copy may stay behind the replica without advancing before it is rebuilt.
FOLLOW_STALL_TIMEOUT = 30.0
#: A follower that ran this long before it exited was healthy: the next fresh copy waits only ``FIRST_BACKOFF``.
FOLLOW_BACKOFF_RESET_SECONDS = 60.0
#: Default ``max_backoff`` of a follower: each fresh copy downloads the whole replica, so it waits longer.
FOLLOW_MAX_BACKOFF = 30.0
#: Seconds between two listings of the replica (each is one ``litestream ltx`` run).
FOLLOW_CHECK_INTERVAL = 10.0
#: Longest wait for a fresh copy (the first one, or a rebuild).
FOLLOW_READY_TIMEOUT = 600.0
#: Seconds a stopped follower gets to exit (it has no final sync to make).
FOLLOW_STOP_GRACE = 5.0
#: Busy timeout of read-only connections: litestream holds the lock while it applies a batch.
FOLLOW_BUSY_TIMEOUT = 5.0
#: Longest wait for one listing of the replica while following.
FOLLOW_LISTING_SECONDS = 15.0
#: How often a wait on a followed copy (its first restore, a transaction id) looks again: it only reads a file.
FOLLOW_POLL = 0.05

# -- reading a replica through the VFS (pylts.vfs) --

#: Seconds the VFS helper may take to load the extension and open the replica.
VFS_READY_TIMEOUT = 60.0

# -- the command line's progress line (pylts.progress) --

#: Seconds between two refreshes of the progress line: often enough to look alive, rarely enough to cost nothing.
PROGRESS_INTERVAL = 0.2

# Monitoring: metrics, the status page and alerts (pylts.monitor, pylts.status_page, pylts.alerts).
#: How many of litestream's last restarts the supervisor keeps for the status page: enough to show a restart loop,
#: few enough that the page stays one screen.
RECENT_RESTARTS = 10
#: How often the status page asks its browser to load it again (a meta refresh): often enough to watch an outage,
#: rarely enough that each load (one health() call, a few ms on the control socket) costs nothing.
STATUS_REFRESH_SECONDS = 5
#: Default ``PYLTS_ALERT_AFTER``: how long a database stays failing before the alert: one minute rides out a blip
#: (a store restart, a network hiccup) that litestream retries through, and still tells within two minutes.
ALERT_AFTER = 60.0
#: How often the alert watcher asks health(): a tenth of a second late on a minute's threshold does not matter,
#: and one health() a second is a few ms of work.
ALERT_POLL = 1.0
#: How long one webhook call may take: a receiver that does not answer in 10 s is down for this alert.
WEBHOOK_TIMEOUT = 10.0
#: How many times one alert is posted before it is given up (with Backoff between tries), so that a receiver
#: restarting at that moment still gets it, and a dead one is not called forever.
WEBHOOK_ATTEMPTS = 3
#: How long stopping the alert watcher waits for alerts still being delivered: it runs before the final sync, and
#: a receiver that does not answer (often down in the same outage) must not eat a container's stop grace period
#: (Docker's is 10 s) that the final sync needs. What is not delivered by then is dropped, with one log line.
ALERT_STOP_GRACE = 1.0


class Backoff:
    """The wait before restarting something that stopped: ``first``, doubled after each failed run, up to ``cap``.

    A healthy run (`reset`) brings it back to ``first``: only a process that keeps failing waits longer.

    >>> backoff = Backoff(cap=4.0)
    >>> tuple(backoff.next() for _ in range(5))
    (0.5, 1.0, 2.0, 4.0, 4.0)
    >>> backoff.reset()
    >>> backoff.next()
    0.5
    """

    def __init__(self, *, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF) -> None:
        self.cap = cap
        self.first = min(first, cap)
        self._next = self.first

    def next(self) -> float:
        """The wait to use now; the one after it is twice as long (at most ``cap``)."""
        wait = self._next
        self._next = min(wait * 2, self.cap)
        return wait

    def reset(self) -> None:
        """After a healthy run: the next wait is ``first`` again."""
        self._next = self.first


def timeout_problem(seconds: object) -> str | None:
    """What is wrong with ``seconds`` as a timeout (a positive, finite number of seconds), or None.

    `pylts.deadline.Deadline` raises it as `InvalidArgument`; this module imports nothing of pylts.

    >>> timeout_problem(30) is None, timeout_problem(0)
    (True, 'timeout must be a positive number of seconds, got 0')
    """
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds < math.inf:
        return f"timeout must be a positive number of seconds, got {seconds!r}"
    return None


# -- restore plans (``pylts restore --dry-run``) -----------------------------------------------

#: Bytes a restore downloads and writes per second, to estimate how long a planned restore takes. Measured by
#: ``python3 tasks.py bench`` (benchmarks/results.md, "Recovery time"): bare ``litestream restore`` of a database of
#: 10,240 incompressible 1,000-byte rows in 0.36 s and of 1,048,576 in 11.18 s, against moto on 127.0.0.1: the
#: difference is 1,038,336,000 bytes in 10.82 s (about 96 MB/s). A store across a network is slower, and the plan
#: says where the figure comes from.
RESTORE_BYTES_PER_SECOND = (1_048_576 - 10_240) * 1000 / (11.18 - 0.36)
#: Seconds a restore takes whatever its size (start, listing, first request): 0.36 s less 10,240,000 bytes at the rate.
RESTORE_FIXED_SECONDS = 0.25
