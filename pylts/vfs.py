"""Reading a replica straight from S3 through litestream's VFS, in a helper process (the ``vfs`` extra).

litestream's VFS extension (PyPI ``litestream-vfs``) has three traps for a Python app, all
measured here: once loaded, later plain connections of that SQLite library fail ("automatic
extension loading failed", upstream PR #1506); it reads its settings and credentials only
from the environment the process *started* with (``os.environ`` changes are not seen, and the
AWS SDK then asks the EC2 metadata service); many Pythons (pyenv builds, macOS' own, the one
on these machines) cannot load extensions into ``sqlite3`` at all.

So the extension never enters the app's process. `VfsReader` starts a helper Python
(``_serve`` in a new Python) with an environment pylts builds (replica URL, credentials, no
metadata service), which loads the extension into apsw's own SQLite and answers queries over
a private Unix socket. The app's ``sqlite3`` is never touched, and credentials never reach a
command line or a URI.

>>> vfs_problem("linux", (3, 14), has_apsw=True, has_extension=True)
'litestream-vfs has wheels for CPython 3.8 to 3.13 only, this is 3.14'
>>> vfs_problem("linux", (3, 11), has_apsw=False, has_extension=True)
'apsw is not installed: pip install "pylts[vfs]>=...'
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from types import TracebackType
from typing import Any

from .context import RunContext
from .deadline import Deadline
from .errors import InvalidArgument, NoBackupFound, VfsError, VfsUnavailable, install_line
from .output import OutputLine, redact
from .runner import ManagedProcess
from .timing import VFS_READY_TIMEOUT

_READY = "pylts-vfs ready"
_FAILED = "pylts-vfs failed: "
_KEY_VARIABLE = "PYLTS_VFS_AUTHKEY"
_HELPER = "import sys; from pylts.vfs import _serve; sys.exit(_serve(sys.argv[1]))"


def vfs_problem(platform: str, python: tuple[int, int], *, has_apsw: bool, has_extension: bool) -> str | None:
    """Why the VFS cannot run here (what to install or use instead), or ``None`` when it can."""
    if not platform.startswith(("linux", "darwin")):
        return f"litestream-vfs is built for Linux (glibc 2.35+) and macOS 11+ only, not {platform}"
    if python > (3, 13):
        return f"litestream-vfs has wheels for CPython 3.8 to 3.13 only, this is {python[0]}.{python[1]}"
    if not has_apsw:
        return f"apsw is not installed: {install_line('vfs')}"
    if not has_extension:
        return f"litestream-vfs is not installed: {install_line('vfs')} (its wheels need glibc 2.35+ on Linux)"
    return None


def _problem_here() -> str | None:
    return vfs_problem(
        sys.platform,
        sys.version_info[:2],
        has_apsw=importlib.util.find_spec("apsw") is not None,
        has_extension=importlib.util.find_spec("litestream_vfs") is not None,
    )


class VfsReader:
    """Read-only queries on a replica, with no local copy, through a helper process; a context manager.

    ``query(sql, params)`` returns the rows as a list of tuples; ``txid()`` the replica
    transaction the helper's view is at. The helper polls the replica, so new commits show
    up within a few seconds.
    """

    def __init__(self, ctx: RunContext, *, ready_timeout: float = VFS_READY_TIMEOUT) -> None:
        problem = _problem_here()
        if problem:
            raise VfsUnavailable(f"cannot read the replica through litestream's VFS: {problem}")
        ctx.line.require_txids("reading a replica through litestream's VFS")
        self._ctx = ctx
        self._ready_timeout = Deadline(ready_timeout).seconds
        self._key = secrets.token_bytes(32)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._proc: ManagedProcess | None = None
        self._channel: Connection | None = None
        self._said = threading.Event()
        self._failure = ""
        self._lock = threading.Lock()

    def start(self) -> VfsReader:
        """Start the helper; return once it has opened the replica, else raise `VfsError` with its reason.

        An empty replica raises `NoBackupFound` at once (the VFS itself would wait for data).
        """
        deadline = Deadline(self._ready_timeout)
        self._ctx.probe(deadline)
        if not self._ctx.line.replica_txid(self._ctx, deadline):
            raise NoBackupFound(
                f"the replica {self._ctx.replica.url()} holds no backup yet: there is nothing to read through the VFS"
            )
        self._folder = tempfile.TemporaryDirectory(prefix="pylts-vfs-")
        address = str(Path(self._folder.name) / "socket")
        self._proc = ManagedProcess(
            [sys.executable, "-c", _HELPER, address],
            env=self._helper_env(),
            secrets=[*self._ctx.secrets, self._key.hex()],
            on_line=self._note_line,
            stop_grace=5.0,
        )
        try:
            self._proc.start()
            if not self._said.wait(deadline.remaining()) or self._failure:
                reason = self._failure or f"it was not ready within {self._ready_timeout:g} s"
                raise VfsError(f"cannot read {self._ctx.replica.url()} through litestream's VFS: {reason}")
            self._channel = Client(address, family="AF_UNIX", authkey=self._key)
        except BaseException:
            self.stop()
            raise
        return self

    def _helper_env(self) -> dict[str, str]:
        """litestream's child environment, plus the replica URL and the socket key; no CA bundle the SDK rejects."""
        env = dict(self._ctx.env, LITESTREAM_REPLICA_URL=self._ctx.replica.url(), **{_KEY_VARIABLE: self._key.hex()})
        bundle = env.pop("AWS_CA_BUNDLE", None)
        if bundle:
            env.setdefault("SSL_CERT_FILE", bundle)
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        return env

    def _note_line(self, line: OutputLine) -> None:
        if line.text.startswith(_FAILED):
            self._failure = redact(line.text[len(_FAILED) :], line.secrets)
            self._said.set()
        elif line.text == _READY:
            self._said.set()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement on the replica; its rows."""
        if self._channel is None:
            raise InvalidArgument("start the VfsReader first (use it in a with block)")
        with self._lock:
            try:
                self._channel.send((sql, tuple(params)))
                kind, value = self._channel.recv()
            except (EOFError, OSError) as exc:
                raise VfsError(f"the VFS helper is gone ({exc or type(exc).__name__}): start a new VfsReader") from None
        if kind == "error":
            raise VfsError(f"the replica could not answer {sql!r}: {value}")
        return [tuple(row) for row in value]

    def txid(self) -> int:
        """The replica transaction the helper reads at (``litestream_txid()``)."""
        return int(self.query("SELECT litestream_txid()")[0][0], 16)

    @property
    def pid(self) -> int | None:
        """pid of the helper process while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def stop(self) -> None:
        """Close the channel and stop the helper."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._proc is not None and self._proc.pid is not None:
            self._proc.stop()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> VfsReader:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serve(address: str) -> int:
    """The helper: load the extension into apsw's SQLite, open the replica, answer queries until the host leaves."""
    try:
        import apsw
        import litestream_vfs

        key = bytes.fromhex(os.environ.pop(_KEY_VARIABLE))
        loader = apsw.Connection(":memory:")
        loader.enable_load_extension(True)
        loader.load_extension(litestream_vfs.loadable_path())
        replica = apsw.Connection(
            "file:replica.db?vfs=litestream", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        )
        replica.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except Exception as exc:
        print(f"{_FAILED}{type(exc).__name__}: {exc}", flush=True)
        return 1
    with Listener(address, family="AF_UNIX", authkey=key) as listener:
        print(_READY, flush=True)
        with listener.accept() as channel:
            while True:
                try:
                    sql, params = channel.recv()
                except EOFError:
                    return 0
                try:
                    channel.send(("rows", replica.execute(sql, params).fetchall()))
                except apsw.Error as exc:
                    channel.send(("error", f"{type(exc).__name__}: {exc}"))
