"""An ASGI lifespan (FastAPI, Starlette): restore before serving, replicate while serving, final sync at shutdown.

    from fastapi import FastAPI
    from pylts.integrations.asgi import lifespan

    app = FastAPI(lifespan=lifespan())

Your own startup runs inside replication, after the restore (``lifespan(then=your_lifespan)``),
so it can create tables in a database that is already the replica's. The running `Replicator`
is ``app.state.pylts`` (its ``status()`` feeds a health endpoint). Starting and stopping
litestream block, so they run in a worker thread, not on the event loop. A failed final sync
raises `FinalSyncFailed` from the shutdown, which the server reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from ..settings import ConfigS3

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def lifespan(cfg: ConfigS3 | None = None, *, then: Lifespan | None = None) -> Lifespan:
    """A lifespan for ``FastAPI(lifespan=...)`` / ``Starlette(lifespan=...)``.

    ``cfg`` defaults to settings read from the environment and ``.env`` at startup (not at import).

    >>> from pylts.integrations.asgi import lifespan
    >>> callable(lifespan())
    True
    """

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        settings = cfg if cfg is not None else await asyncio.to_thread(ConfigS3.load)
        replicator = settings.replicating()
        await asyncio.to_thread(replicator.start)  # restores a missing database, then waits for the first sync
        try:
            state = getattr(app, "state", None)
            if state is not None:
                state.pylts = replicator
            if then is None:
                yield None
            else:
                async with then(app) as inner:
                    yield inner
        except BaseException as exc:  # stop without hiding the error already on its way
            await asyncio.to_thread(replicator.__exit__, type(exc), exc, exc.__traceback__)
            raise
        await asyncio.to_thread(replicator.stop)

    return run
