"""FastAPI: restore before the app serves, replicate while it runs, final sync at shutdown."""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing

from fastapi import FastAPI

from pylts import ConfigS3
from pylts.integrations.asgi import lifespan

cfg = ConfigS3()  # settings from the environment or .env


@asynccontextmanager
async def create_tables(app: FastAPI) -> AsyncIterator[None]:
    """Runs after the restore, with replication already on: the schema lands in the replica too."""
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    yield


app = FastAPI(lifespan=lifespan(cfg, then=create_tables))


@app.post("/notes")
def add_note(body: str) -> dict[str, int]:
    with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn, conn:
        note_id = conn.execute("INSERT INTO notes (body) VALUES (?)", (body,)).lastrowid
    return {"id": note_id or 0}


@app.get("/notes")
def list_notes() -> list[str]:
    with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn:
        return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")]


@app.get("/health")
def health() -> dict[str, bool]:
    """In sync with the replica right now? (for a load balancer or an uptime check)"""
    return {"in_sync": app.state.pylts.status().in_sync}
