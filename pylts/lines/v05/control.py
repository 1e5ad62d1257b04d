"""litestream 0.5's control socket: HTTP over a Unix socket, with a client-side deadline on every call.

The supervisor's litestream listens at a private path (`private_socket_path`). What it
answers is read into typed models. Every call ends by its deadline: ``POST /sync`` (which pylts
does not use: see `pylts.lines.v05.observer`) was measured still waiting 8 s after its own 3 s timeout
while the store was down, and a socket can always stop answering.

>>> client = ControlClient(Path("/nonexistent/control.sock"))
>>> client.txid(Path("/data/app.db"), seconds=0.5)
Traceback (most recent call last):
...
pylts.errors.ControlSocketError: litestream's control socket /nonexistent/control.sock: ...
"""

from __future__ import annotations

import http.client
import json
import socket
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from ...errors import ControlSocketError

#: The longest path of a Unix socket (``sun_path``, 108 bytes with its final zero byte).
MAX_SOCKET_PATH = 107


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SyncStatus(_Reply):
    """One database in ``GET /debug/sync-status``: litestream's current (or last) local sync, and its error.

    Measured on 0.5.17: this is the local sync (WAL to LTX files); it kept completing every
    second while uploads hung on a black-holed store. Uploads show in `Listed.last_sync_at`.
    """

    path: Path
    active: bool
    started_at: datetime | None = None
    updated_at: datetime | None = None  #: of a finished sync: when it ended
    txid: int = 0
    error: str | None = None


class Listed(_Reply):
    """One database in ``GET /list``; ``last_sync_at`` is the replica's last successful sync (kept during outages)."""

    path: Path
    status: str
    last_sync_at: datetime | None = None


class _SyncStatuses(_Reply):
    databases: list[SyncStatus]


class _Listing(_Reply):
    databases: list[Listed]


class _Txid(_Reply):
    txid: int


_Model = TypeVar("_Model", bound=_Reply)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, seconds: float) -> None:
        super().__init__("localhost", timeout=seconds)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


class ControlClient:
    """Calls to one litestream's control socket; each raises `ControlSocketError` when it cannot answer."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def txid(self, db: Path, *, seconds: float) -> int:
        """The database's local position (``GET /txid``)."""
        return self._get(f"/txid?path={quote(str(db), safe='/')}", seconds, _Txid).txid

    def sync_status(self, *, seconds: float) -> dict[Path, SyncStatus]:
        """Each database's current or last operation, with its error (``GET /debug/sync-status``)."""
        reply = self._get("/debug/sync-status", seconds, _SyncStatuses)
        return {entry.path: entry for entry in reply.databases}

    def listing(self, *, seconds: float) -> dict[Path, Listed]:
        """Each database's status and last successful sync (``GET /list``)."""
        reply = self._get("/list", seconds, _Listing)
        return {entry.path: entry for entry in reply.databases}

    def _get(self, target: str, seconds: float, model: type[_Model]) -> _Model:
        """One request that ends within ``seconds``: the socket's timeout is the time left at each step."""
        end = time.monotonic() + seconds
        connection = _UnixConnection(self.path, max(seconds, 0.001))
        try:
            connection.request("GET", target)
            if connection.sock is not None:
                connection.sock.settimeout(max(end - time.monotonic(), 0.001))
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise ControlSocketError(
                f"litestream's control socket {self.path}: {reason} within {seconds:.3g} s"
            ) from None
        finally:
            connection.close()
        try:
            reply = json.loads(text)
        except ValueError:
            reply = None
        if response.status != 200:
            error = reply.get("error") if isinstance(reply, dict) else text.strip()
            raise ControlSocketError(f"litestream's control socket answered GET {target}: {error}")
        try:
            return model.model_validate(reply)
        except ValidationError:
            raise ControlSocketError(f"litestream's control socket answered GET {target} with {text[:200]!r}") from None


def private_socket_path(db: Path) -> Path:
    """Where the control socket of ``db``'s litestream goes: a folder only its owner can enter.

    Beside the database (``.app.db-pylts-control/sock``) when that path fits a Unix socket,
    so a run killed with SIGKILL leaves it where the next run reuses it, as it does the config;
    else in a new folder from ``tempfile.mkdtemp``.
    """
    folder = db.parent / f".{db.name}-pylts-control"
    if len(str(folder / "sock").encode()) > MAX_SOCKET_PATH:
        folder = Path(tempfile.mkdtemp(prefix="pylts-"))
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder / "sock"
