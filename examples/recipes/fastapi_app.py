"""FastAPI: restore before the app serves, replicate while it runs, final sync at shutdown."""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing

from fastapi import FastAPI

from pylts import ConfigS3

cfg = ConfigS3()  # settings from the environment or .env


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    cfg.ensure_restored()  # a fresh machine gets its database back before the first request
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    with cfg.replicating():  # in sync when the app starts serving; final sync when it stops
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
