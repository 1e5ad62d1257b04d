"""FastAPI: restore before the app serves, replicate while it runs, final sync at shutdown.

Without tables to create, ``app = FastAPI(lifespan=pylts.integrations.asgi.lifespan(cfg))`` is all it takes.
"""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing

from fastapi import FastAPI

from pylts import ConfigS3
from pylts.integrations.asgi import replicated

cfg = ConfigS3()  # settings from the environment or .env


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # a fresh machine gets its database back, in sync, before the first request; final sync at shutdown
    async with replicated(cfg):
        with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/notes")
def add_note(body: str) -> dict[str, int]:
    with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn, conn:
        note_id = conn.execute("INSERT INTO notes (body) VALUES (?)", (body,)).lastrowid
    return {"id": note_id or 0}


@app.get("/notes")
def list_notes() -> list[str]:
    with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn:
        return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")]
