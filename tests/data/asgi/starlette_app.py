"""A bare Starlette app (no FastAPI) using pylts' lifespan, with its own startup inside it."""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pylts import ConfigS3
from pylts.integrations.asgi import lifespan

cfg = ConfigS3()


@asynccontextmanager
async def schema(app: Starlette) -> AsyncIterator[None]:
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    yield


async def notes(request: Request) -> JSONResponse:
    with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn, conn:
        if request.method == "POST":
            conn.execute("INSERT INTO notes (body) VALUES (?)", (request.query_params["body"],))
        return JSONResponse([body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")])


async def health(request: Request) -> JSONResponse:
    status = request.app.state.pylts.status()
    return JSONResponse({"in_sync": status.in_sync, "running": status.running})


app = Starlette(
    routes=[Route("/notes", notes, methods=["GET", "POST"]), Route("/health", health)],
    lifespan=lifespan(then=schema),
)
