"""Asking a replica what it holds, per litestream line."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from .commands import config_option, ltx_argv
from .context import RunContext
from .errors import LitestreamError, RestoreError
from .output import error_for, last_error
from .reports import Generation, LtxFile, ReplicaContents, Snapshot, parse_ltx_files, parse_rows, parse_table
from .runner import Deadline
from .sqlite_files import config_path_for


def replica_contents(ctx: RunContext, deadline: Deadline) -> ReplicaContents:
    """List the replica of ``ctx.db``: LTX files on 0.5, generations and snapshots on 0.3."""
    ctx.probe(deadline)
    version = str(ctx.litestream.version)
    if not ctx.litestream.is_legacy:
        return ReplicaContents(litestream_version=version, ltx_files=ltx_files(ctx, deadline))
    with tempfile.TemporaryDirectory(prefix="pylts-status-") as folder:
        if not ctx.db.exists():  # 0.3 stats the database; list the replica through a stand-in
            ctx = dataclasses.replace(ctx, db=Path(folder) / ctx.db.name)
            ctx.db.touch()
        config = [*config_option(config_path_for(ctx.db)), str(ctx.db)]
        exe = str(ctx.litestream.path)
        with ctx.legacy_config():
            generations = parse_table(_ask(ctx, [exe, "generations", *config], deadline), {"name": "replica"})
            snapshots = parse_table(_ask(ctx, [exe, "snapshots", *config], deadline))
    return ReplicaContents(
        litestream_version=version,
        generations=parse_rows("list of generations", Generation.model_validate, generations),
        snapshots=parse_rows("list of snapshots", Snapshot.model_validate, snapshots),
    )


def ltx_files(ctx: RunContext, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError) -> list[LtxFile]:
    """Every LTX file a litestream 0.5 replica holds, at every level; a failed listing raises ``failure``."""
    return parse_ltx_files(_ask(ctx, ltx_argv(ctx.litestream, ctx.replica), deadline, failure))


def latest_txid(ctx: RunContext, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError) -> int:
    """The newest transaction a litestream 0.5 replica holds (0 when it holds none)."""
    return max((f.max_txid_number for f in ltx_files(ctx, deadline, failure=failure)), default=0)


def unbroken_txid(files: list[LtxFile]) -> int:
    """The newest transaction ``files`` hold with no gap before it (restore needs the whole chain).

    >>> from datetime import datetime, timezone
    >>> now = datetime.now(timezone.utc)
    >>> def f(lo, hi):
    ...     return LtxFile(level=0, min_txid=f"{lo:016x}", max_txid=f"{hi:016x}", size=1, timestamp=now)
    >>> unbroken_txid([f(1, 4), f(5, 5), f(7, 9)]), unbroken_txid([f(1, 9), f(3, 4), f(10, 10)]), unbroken_txid([])
    (5, 10, 0)
    """
    reached = 0
    for low, high in sorted((f.min_txid_number, f.max_txid_number) for f in files):
        if low > reached + 1:
            break
        reached = max(reached, high)
    return reached


def _ask(ctx: RunContext, argv: list[str], deadline: Deadline, failure: type[LitestreamError] = RestoreError) -> str:
    result = ctx.run(argv, deadline)
    # 0.3 exits 0 when a listing fails, saying so only in an ERROR line among the table
    if result.returncode != 0 or last_error(f"{result.stdout}\n{result.stderr}"):
        raise error_for(result, failure, "listing the replica")
    return result.stdout
