"""The FastAPI / Starlette lifespan, booted under a real uvicorn against the local S3."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import fastapi
import pytest
import uvicorn
from helpers import read_rows, write_rows
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pylts import BucketNotFound, ConfigS3
from pylts.integrations.asgi import lifespan, replicated
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration


def notes_app(framework: str, cfg: ConfigS3) -> Any:
    """A small app keeping notes in ``cfg``'s database, with pylts' lifespan, in FastAPI or plain Starlette."""

    def add(body: str) -> None:
        with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS notes (body TEXT)")
            conn.execute("INSERT INTO notes VALUES (?)", (body,))

    def notes() -> list[str]:
        with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn:
            return [body for (body,) in conn.execute("SELECT body FROM notes")]

    def health(request: Request) -> dict[str, bool]:
        return {"in_sync": request.state.pylts.status().in_sync}

    if framework == "fastapi":
        app = fastapi.FastAPI(lifespan=lifespan(cfg))
        app.post("/notes")(add)
        app.get("/notes")(notes)
        app.get("/health")(health)
        return app

    async def notes_route(request: Request) -> JSONResponse:
        if request.method == "POST":
            add(request.query_params["body"])
        return JSONResponse(notes())

    async def health_route(request: Request) -> JSONResponse:
        return JSONResponse(health(request))

    routes = [Route("/notes", notes_route, methods=["GET", "POST"]), Route("/health", health_route)]
    return Starlette(routes=routes, lifespan=lifespan(cfg))


@contextmanager
def served(app: Any) -> Iterator[int]:
    """uvicorn serving ``app`` on 127.0.0.1 in this process; stopped (lifespan shutdown) when the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=90)
    assert not thread.is_alive()


def call(port: int, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
def test_a_row_survives_shutdown_and_comes_back_on_a_fresh_machine(
    framework: str, cfg: ConfigS3, local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    with served(notes_app(framework, cfg)) as port:
        assert call(port, "/health") == {"in_sync": True}
        call(port, "/notes?body=first", "POST")
    # shut down: the final sync put the row in the backup
    copy = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "copy", litestream_bin=cfg.litestream_bin)
    copy.restore()
    with closing(sqlite3.connect(copy.dbpath)) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("first",)]
    cfg.delete()  # a fresh machine: only the backup is left
    with served(notes_app(framework, cfg)) as port:
        assert call(port, "/notes") == ["first"]


def test_several_databases_share_one_lifespan(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    main, queue = (
        local_s3.config(bucket, f"{name}.db", db=f"{name}.db", folder=tmp_path / "data") for name in ("main", "queue")
    )
    main.folder.mkdir()
    write_rows(main.dbpath, 20)
    write_rows(queue.dbpath, 5)

    async def run() -> None:
        async with lifespan(main, queue, stop_timeout=20)(None) as state:
            assert [db.in_sync for db in state["pylts"].status().databases] == [True, True]

    anyio.run(run)
    for cfg in (main, queue):
        cfg.delete()
        cfg.restore()
    assert (len(read_rows(main.dbpath)), len(read_rows(queue.dbpath))) == (20, 5)


def test_a_store_that_cannot_be_used_stops_the_startup(local_s3: LocalS3, tmp_path: Path) -> None:
    local_s3.reset()
    cfg = local_s3.config("no-such-bucket", "app.db", folder=tmp_path / "data")

    async def run() -> None:
        async with replicated(cfg):
            pytest.fail("the app must not start without its backup")

    with pytest.raises(BucketNotFound):
        anyio.run(run)


def test_settings_come_from_the_environment_by_default(
    local_s3: LocalS3, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = local_s3.config(bucket, "app.db", folder=tmp_path / "data")
    for name, value in {
        "LITESTREAM_ACCESS_KEY_ID": "AKIAPYLTSLOCALTEST01",
        "LITESTREAM_SECRET_ACCESS_KEY": "pylts-local-secret-do-not-use-elsewhere",
        "REPLICA_URL": cfg.s3,
        "REPLICA_ENDPOINT": local_s3.endpoint,
        "DB_FOLDER": str(cfg.folder),
    }.items():
        monkeypatch.setenv(name, value)

    async def run() -> Path:
        async with replicated() as replicator:
            return replicator.status().databases[0].path

    assert anyio.run(run) == cfg.dbpath


def test_a_cancelled_server_still_gets_its_final_sync(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    """A server that cancels its lifespan (a second Ctrl-C, a task group torn down) must not skip the final sync."""
    cfg.folder.mkdir()

    async def run() -> None:
        with anyio.CancelScope() as scope:
            async with replicated(cfg, stop_timeout=20):
                write_rows(cfg.dbpath, 40)
                scope.cancel()
                await anyio.sleep(30)
        assert scope.cancelled_caught

    anyio.run(run)
    cfg.delete()
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 40
