"""Asking a replica what it holds (the line knows how: LTX files on 0.5, generations on 0.3).

Both litestream lines can have written at one URL, so the layouts found are listed by
pylts itself (`replica_layouts`), not by the running line, which sees its own files only.
"""

from __future__ import annotations

import logging

from .deadline import Deadline
from .errors import ListingUnavailable, ReplicaLayoutMismatch
from .layout import Layout
from .lines.base import Line, Plan
from .reports import ReplicaContents

#: Where each layout keeps its files under the replica's path, for messages.
logger = logging.getLogger(__name__)

_WHERE = {Layout.V05: "LTX files under PATH/0000/, PATH/0001/, ...", Layout.V03: "PATH/generations/"}


def replica_contents(ctx: Plan, deadline: Deadline) -> ReplicaContents:
    """List the replica of ``ctx.db``, after checking the store answers at all; layouts the line does not list
    are named in ``notes``."""
    ctx.probe(deadline)
    layouts = replica_layouts(ctx, deadline) or frozenset()
    contents = ctx.line.replica_contents(ctx, deadline)
    notes = [layout_note(ctx.line, layout) for layout in sorted(layouts - {ctx.line.layout})]
    return contents.model_copy(update={"layouts": [layout.value for layout in sorted(layouts)], "notes": notes})


def replica_layouts(ctx: Plan, deadline: Deadline) -> frozenset[Layout] | None:
    """The layouts at the replica's URL, whichever line is running: the store's own listing.

    ``None`` when pylts cannot list the store itself (credentials only in the AWS credential
    chain, `ListingUnavailable`): a WARNING says the other line's layout was not looked for.
    """
    try:
        return ctx.replica_objects(deadline).layouts
    except ListingUnavailable as exc:
        logger.warning("could not look for litestream's other layout at %s: %s", ctx.replica.url(), exc)
        return None


def layout_note(line: Line, layout: Layout) -> str:
    """What a replica's files in ``layout`` mean to ``line`` (which writes another layout).

    >>> from pathlib import Path
    >>> from pylts.binary import Litestream, Version
    >>> from pylts.lines import line_for
    >>> print(layout_note(line_for(Litestream(Path("x"), Version(0, 5, 17))), Layout.V03))
    the replica holds litestream 0.3's layout (PATH/generations/): litestream 0.5.17 restores it but does not list it or
    write to it; `pylts migrate` moves it to 0.5's layout
    """
    if line.reads(layout):
        return (
            f"the replica holds litestream {layout.value}'s layout ({_WHERE[layout]}): litestream "
            f"{line.litestream.version} restores it but does not list it or write to it; "
            f"`pylts migrate` moves it to {line.layout.value}'s layout"
        )
    return (
        f"the replica holds litestream {layout.value}'s layout ({_WHERE[layout]}), which litestream "
        f"{line.litestream.version} cannot read: {line.unreadable_remedy}"
    )


def refuse_unreadable(ctx: Plan, layouts: frozenset[Layout], *, doing: str) -> None:
    """Raise `ReplicaLayoutMismatch` when ``layouts`` hold one the line cannot read (before ``doing`` anything).

    Writing its own layout beside files it cannot read would leave two histories at one URL,
    each line restoring its own.
    """
    for layout in sorted(layouts):
        if not ctx.line.reads(layout):
            raise ReplicaLayoutMismatch(
                f"the replica {ctx.replica.url()} holds files in litestream {layout.value}'s layout "
                f"({_WHERE[layout]}), which litestream {ctx.litestream.version} cannot read, so {doing} was refused "
                f"and nothing was changed: {ctx.line.unreadable_remedy}",
                layout=layout.value,
            )


def refuse_other_layout(ctx: Plan, deadline: Deadline, *, doing: str) -> None:
    """Raise `ReplicaLayoutMismatch` unless the replica is empty or holds the line's own layout, all of it readable.

    For what proves a backup in the line's layout (`verify`): files of another line alone are a
    backup it would not see.
    """
    layouts = replica_layouts(ctx, deadline) or frozenset()
    refuse_unreadable(ctx, layouts, doing=doing)
    others = sorted(layouts - {ctx.line.layout})
    if others and ctx.line.layout not in layouts:
        raise ReplicaLayoutMismatch(
            f"the replica {ctx.replica.url()} holds only litestream {others[0].value}'s layout "
            f"({_WHERE[others[0]]}), so {doing} was refused and nothing was changed: `pylts migrate` moves it to "
            f"{ctx.line.layout.value}'s layout first",
            layout=others[0].value,
        )
