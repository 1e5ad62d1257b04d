"""FastAPI and Starlette: the database restored before the app serves, replicated while it runs, synced at shutdown.

``FastAPI(lifespan=lifespan(cfg))`` is all an app needs; `replicated` goes inside a lifespan
of the app's own. The blocking steps (restore, first sync, final sync) run in a worker
thread, so the event loop stays free. Needs anyio, which FastAPI and Starlette bring
(``pip install "pylts[starlette]>=0.1"``).

>>> import anyio, tempfile
>>> from pylts.testing import LocalS3
>>> s3 = LocalS3().start()
>>> s3.create_bucket("backups")
>>> cfg = s3.config("backups", "app.db", db="app.db", folder=tempfile.mkdtemp())
>>> async def serve() -> bool:
...     async with lifespan(cfg)(app=None) as state:
...         return state["pylts"].status().in_sync
>>> anyio.run(serve)
True
>>> s3.stop()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import ModuleType
from typing import Any, TypedDict

from typing_extensions import Unpack

from ..config import ConfigS3
from ..errors import MissingExtra
from ..monitor import Monitored
from ..status_page import asgi_app
from ..supervisor import Replicator


class ReplicatorOptions(TypedDict, total=False):
    """`Replicator`'s options: ``ready_timeout``, ``stop_timeout``, ``max_backoff``, ``stall_timeout``."""

    ready_timeout: float | None
    stop_timeout: float
    max_backoff: float
    stall_timeout: float


@asynccontextmanager
async def replicated(*configs: ConfigS3, **options: Unpack[ReplicatorOptions]) -> AsyncIterator[Replicator]:
    """`Replicator` for ``configs`` (default: one `ConfigS3` read from the environment) as an async block.

    On entry each database is restored if missing (the boot check refuses a stale one) and
    replication is in sync; on exit litestream makes its final sync (`FinalSyncFailed` if it
    did not reach the replica), also when the server cancels the block.
    """
    anyio = _anyio()
    chosen = configs or (await anyio.to_thread.run_sync(ConfigS3.load),)
    replicator = Replicator(chosen, **options)
    await anyio.to_thread.run_sync(replicator.start)
    try:
        yield replicator
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # a cancelled shutdown still gets its final sync
            await anyio.to_thread.run_sync(replicator.__exit__, type(exc), exc, exc.__traceback__)
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(replicator.stop)


def lifespan(
    *configs: ConfigS3, **options: Unpack[ReplicatorOptions]
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Replicator]]]:
    """A lifespan for ``FastAPI(lifespan=...)`` or ``Starlette(lifespan=...)`` that runs `replicated`.

    Its state holds the `Replicator` as ``"pylts"``: ``request.state.pylts.status()`` in a handler.
    """

    @asynccontextmanager
    async def pylts_lifespan(app: Any) -> AsyncIterator[dict[str, Replicator]]:
        async with replicated(*configs, **options) as replicator:
            yield {"pylts": replicator}

    return pylts_lifespan


def status_app(replicator: Monitored | None = None) -> Callable[..., Any]:
    """The status page (`pylts.status_page.asgi_app`) to mount: the lifespan's `Replicator` unless one is given.

    app = Starlette(lifespan=lifespan(cfg), routes=[Mount("/pylts", app=status_app())])
    """
    return asgi_app(replicator)


def _anyio() -> ModuleType:
    try:
        import anyio
        import anyio.to_thread
    except ImportError:
        raise MissingExtra("pylts.integrations.asgi (FastAPI and Starlette bring it)", "anyio", "starlette") from None
    return anyio
