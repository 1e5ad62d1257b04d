"""Asking a replica what it holds, per litestream line."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from .commands import ltx_argv
from .context import RunContext
from .errors import RestoreError
from .output import error_for, last_error
from .reports import Generation, ReplicaContents, Snapshot, parse_ltx_files, parse_table
from .runner import Deadline
from .sqlite_files import config_path_for


def replica_contents(ctx: RunContext, deadline: Deadline) -> ReplicaContents:
    """List the replica of ``ctx.db``: LTX files on 0.5, generations and snapshots on 0.3."""
    ctx.probe(deadline)
    version = str(ctx.litestream.version)
    if not ctx.litestream.is_legacy:
        return ReplicaContents(litestream_version=version, ltx_files=parse_ltx_files(_ask(ctx, ltx_argv(ctx.litestream, ctx.replica), deadline)))
    with tempfile.TemporaryDirectory(prefix="pylts-status-") as folder:
        if not ctx.db.exists():  # 0.3 stats the database; list the replica through a stand-in
            ctx = dataclasses.replace(ctx, db=Path(folder) / ctx.db.name)
            ctx.db.touch()
        config = ["-config", str(config_path_for(ctx.db)), str(ctx.db)]
        exe = str(ctx.litestream.path)
        with ctx.legacy_config():
            generations = parse_table(_ask(ctx, [exe, "generations", *config], deadline), {"name": "replica"})
            snapshots = parse_table(_ask(ctx, [exe, "snapshots", *config], deadline))
    return ReplicaContents(
        litestream_version=version,
        generations=[Generation.model_validate(row) for row in generations],
        snapshots=[Snapshot.model_validate(row) for row in snapshots],
    )


def _ask(ctx: RunContext, argv: list[str], deadline: Deadline) -> str:
    result = ctx.run(argv, deadline)
    # 0.3 exits 0 when a listing fails, saying so only in an ERROR line among the table
    if result.returncode != 0 or last_error(f"{result.stdout}\n{result.stderr}"):
        raise error_for(result, RestoreError, "listing the replica")
    return result.stdout
