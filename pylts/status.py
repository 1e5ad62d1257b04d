"""Asking a replica what it holds (the line knows how: LTX files on 0.5, generations on 0.3)."""

from __future__ import annotations

from .context import RunContext
from .reports import ReplicaContents
from .runner import Deadline


def replica_contents(ctx: RunContext, deadline: Deadline) -> ReplicaContents:
    """List the replica of ``ctx.db``, after checking the store answers at all."""
    ctx.probe(deadline)
    return ctx.line.replica_contents(ctx, deadline)
