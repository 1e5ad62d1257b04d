"""The files of one SQLite database on disk, and the checks pylts makes on them.

A database ``app.db`` comes with sidecars (``app.db-wal``, ``app.db-shm``) and
litestream's own metadata folder (``.app.db-litestream``). pylts treats them as one.

>>> from pathlib import Path
>>> [p.name for p in database_files(Path("/data/app.db")) if p.name.startswith(".")]
['.app.db-litestream', '.app.db-pylts.yml', '.app.db-pylts-replicate.yml',
 '.app.db-pylts-position', '.app.db-pylts.lock']
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import AlreadyReplicating, DatabaseInvalid, DatabaseLocked
from .timing import BUSY_TIMEOUT

IntegrityCheck = Literal["full", "quick", "none"]
_HEADER = b"SQLite format 3\x00"
_LTX_HEADER = struct.Struct(">4sIII QQQQ QQ II")
_WAL_HEADER = struct.Struct(">IIII II II")
#: Bytes of a WAL file's header: a WAL this long holds no frame.
WAL_HEADER_SIZE = _WAL_HEADER.size
_WAL_FRAME_HEADER = struct.Struct(">II II II")


def read_only(path: Path, *, busy_timeout: float = BUSY_TIMEOUT, any_thread: bool = False) -> sqlite3.Connection:
    """A read-only connection to ``path`` (``mode=ro``, which never creates the file), whatever its name holds.

    Through a percent-encoded URI: in ``file:{path}?mode=ro`` a ``?`` or ``#`` in the name ended the
    path there, and SQLite created (and read) an empty database at the part before it. ``any_thread``:
    the connection may be used, one thread at a time, from other threads than the one that opened it.

    >>> import tempfile
    >>> odd = Path(tempfile.mkdtemp()) / "app?v=2#1.db"
    >>> with contextlib.closing(sqlite3.connect(odd)) as conn:
    ...     _ = conn.execute("CREATE TABLE items (id INTEGER)")
    >>> with contextlib.closing(read_only(odd)) as conn:
    ...     conn.execute("SELECT name FROM sqlite_master").fetchall()
    [('items',)]
    >>> sorted(p.name for p in odd.parent.iterdir())
    ['app?v=2#1.db']
    """
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=busy_timeout, check_same_thread=not any_thread)


def wal_path(db: Path) -> Path:
    """The WAL file SQLite keeps beside ``db``."""
    return db.with_name(db.name + "-wal")


def sidecars(db: Path) -> list[Path]:
    """The files SQLite and litestream keep next to ``db`` (not the database itself)."""
    return [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal", "-txid")]


def litestream_meta(db: Path) -> Path:
    """litestream's local metadata folder for ``db``."""
    return db.with_name(f".{db.name}-litestream")


def config_path_for(db: Path) -> Path:
    """Where pylts writes the litestream config for a database (litestream 0.3 reads it).

    >>> config_path_for(Path("/data/app.db"))
    PosixPath('/data/.app.db-pylts.yml')
    """
    return db.with_name(f".{db.name}-pylts.yml")


def replicate_config_path_for(db: Path) -> Path:
    """Where a ``Replicator`` writes litestream's config while it runs (beside its first database).

    >>> replicate_config_path_for(Path("/data/app.db"))
    PosixPath('/data/.app.db-pylts-replicate.yml')
    """
    return db.with_name(f".{db.name}-pylts-replicate.yml")


def restored_mark(db: Path) -> Path:
    """Where pylts notes the replica position a database was restored at (a txid on 0.5, a generation on 0.3).

    >>> restored_mark(Path("/data/app.db"))
    PosixPath('/data/.app.db-pylts-position')
    """
    return db.with_name(f".{db.name}-pylts-position")


def lock_path(db: Path) -> Path:
    """The file whose lock says a process replicates ``db`` (it holds that process's pid).

    >>> lock_path(Path("/data/app.db"))
    PosixPath('/data/.app.db-pylts.lock')
    """
    return db.with_name(f".{db.name}-pylts.lock")


def database_files(db: Path) -> list[Path]:
    """The database, its sidecars, litestream's metadata folder, and pylts' configs, restore mark and lock for it."""
    return [
        db,
        *sidecars(db),
        litestream_meta(db),
        config_path_for(db),
        replicate_config_path_for(db),
        restored_mark(db),
        lock_path(db),
    ]


@contextlib.contextmanager
def replication_lock(db: Path) -> Iterator[None]:
    """Be the one process on this machine that replicates ``db``, for the ``with`` block.

    The lock is the kernel's (``flock``), so it goes away with its holder, even one killed
    by SIGKILL; litestream does not inherit it.
    """
    fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise AlreadyReplicating(
                f"{db} is already being replicated by process {holder or '(unknown)'} on this machine: two "
                "replicators of one database would overwrite each other's backups; stop that one first",
                pid=int(holder) if holder.isdigit() else None,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def live_replicator(db: Path) -> int | None:
    """The pid of another live process that replicates ``db`` (it holds the one-writer lock), else ``None``.

    Such a database is live: its replica moves ahead of what a reader here sees, so comparing
    the two would take a live database for a stale one. On Linux the kernel's table of locks is
    read without touching the lock; elsewhere a shared lock is tried for an instant.

    >>> live_replicator(Path("/nonexistent/app.db")) is None
    True
    """
    path = lock_path(db)
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if os.path.exists("/proc/locks"):
        inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            holders = [
                int(fields[4])
                for fields in map(str.split, table)
                if fields[1:2] == ["FLOCK"] and fields[5:6] == [inode]
            ]
        return next((pid for pid in holders if pid != os.getpid()), None)
    with open(path, "rb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock.read(32).decode(errors="replace").strip()
            return int(holder) if holder.isdigit() and int(holder) != os.getpid() else None
    return None


def remove(paths: list[Path]) -> None:
    """Remove files and folders; ones already gone are fine."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def is_blank(db: Path) -> bool:
    """Whether ``db`` is a 0-byte file with no WAL content: what ``sqlite3.connect()`` leaves on a missing path.

    Such a file holds no data, so pylts treats it as a missing database, never as one to back up.

    >>> import tempfile
    >>> blank = Path(tempfile.mkdtemp()) / "app.db"
    >>> _ = blank.write_bytes(b"")
    >>> is_blank(blank), is_blank(blank.with_name("missing.db"))
    (True, False)
    """
    wal = wal_path(db)
    try:
        return db.stat().st_size == 0 and (not wal.exists() or wal.stat().st_size == 0)
    except FileNotFoundError:
        return False


def require_sqlite_header(path: Path) -> None:
    """Raise `DatabaseInvalid` unless ``path`` starts like a SQLite database (an empty file does not)."""
    with path.open("rb") as handle:
        head = handle.read(len(_HEADER))
    if not head:
        raise DatabaseInvalid(
            f"{path} is an empty file (0 bytes), as sqlite3.connect() leaves on a missing path: it holds no database, "
            "and pylts never backs it up over a backup; `pylts restore --if-missing` (ensure_restored()) restores "
            "the replica in its place"
        )
    if head != _HEADER:
        raise DatabaseInvalid(
            f"{path} is not a SQLite database (its first bytes are not 'SQLite format 3'); "
            "move it aside, then `pylts restore --if-missing` restores the replica in its place"
        )


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) for a database, or say clearly why it cannot be."""
    if folder.exists() and not folder.is_dir():
        raise DatabaseInvalid(f"the database folder {folder} is a file, not a folder: point DB_FOLDER at a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = next((p for p in folder.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocked} is a file, not a folder" if blocked else (exc.strerror or str(exc))
        raise DatabaseInvalid(f"cannot create the database folder {folder}: {reason}; check DB_FOLDER") from None


def check_integrity(path: Path, mode: IntegrityCheck) -> None:
    """Open ``path`` and run SQLite's ``quick_check`` or ``integrity_check``."""
    try:
        with contextlib.closing(read_only(path)) as conn:
            rows = (
                []
                if mode == "none"
                else conn.execute(f"PRAGMA {'quick_check' if mode == 'quick' else 'integrity_check'}").fetchall()
            )
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseInvalid(f"{path} is not a usable SQLite database: {exc}") from None
    problems = [row[0] for row in rows if row[0] != "ok"]
    if problems:
        raise DatabaseInvalid(f"{path} failed its {mode} integrity check: {'; '.join(problems[:5])}")


def create_empty(path: Path) -> None:
    """Create an empty SQLite database in WAL mode (what litestream replicates)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def checkpoint(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
    """Fold the WAL into ``path`` and truncate it, so the main file holds every transaction."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=busy_timeout)) as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as exc:
        raise DatabaseLocked(f"cannot checkpoint {path}: {exc}; stop the processes that use it and try again") from None
    if busy:
        raise DatabaseLocked(f"{path} is in use by another connection; stop the processes that use it and try again")


@contextlib.contextmanager
def write_locked(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> Iterator[None]:
    """Hold SQLite's write lock on ``path``, so no other connection can commit meanwhile."""
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise DatabaseLocked(
                f"{path} is locked by another writer ({exc}); stop the processes that use it, then try again"
            ) from None
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextlib.contextmanager
def wal_kept(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> Iterator[None]:
    """Hold a read transaction on ``path`` so that no checkpoint can restart or remove its WAL meanwhile.

    litestream holds one while it replicates; pylts holds this one while its litestream does
    not, so the commits made meanwhile stay in the WAL for litestream to read when it comes
    back. Without it the app's last connection to close folds the WAL into the database and
    deletes it, and a litestream 0.5 that synced to the WAL's end before took the new WAL for an
    expected checkpoint: those commits were in no LTX file and no replica. The connection is
    read-only, so closing it never checkpoints either, even when it is the last one. A database
    not in WAL mode (litestream never opened it) has no WAL to keep, and nothing is held: a read
    transaction there would block every writer.

    >>> import tempfile
    >>> db = Path(tempfile.mkdtemp()) / "kept.db"
    >>> create_empty(db)
    >>> with wal_kept(db), contextlib.closing(sqlite3.connect(db, isolation_level=None)) as app:
    ...     _ = app.execute("CREATE TABLE t (x)")
    >>> wal_position(db).commits  # the app's connection closed first, and its commit is still in the WAL
    True
    """
    conn = _reading(path, busy_timeout)
    try:
        yield
    finally:
        if conn is not None:
            conn.close()  # by the thread that stops replication, maybe not the one that began holding


def _reading(path: Path, busy_timeout: float) -> sqlite3.Connection | None:
    """A read-only connection to ``path`` in WAL mode, inside a read transaction (None: not in WAL mode).

    `DatabaseLocked` where none can begin.
    """
    conn = None
    try:
        conn = read_only(path, busy_timeout=busy_timeout, any_thread=True)
        conn.isolation_level = None  # BEGIN below, and the transaction stays open until close
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.close()
            return None
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise DatabaseLocked(f"cannot hold a read transaction on {path}: {exc}") from None


def fsync_file_and_dir(path: Path) -> None:
    """Flush a file and the directory entry that names it to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class WalPosition:
    """Where a WAL's committed content ends, and the salts that identify its current cycle."""

    salts: tuple[int, int]
    end: int

    @property
    def commits(self) -> bool:
        """Whether the WAL holds a committed frame: one just restarted by a checkpoint holds none."""
        return self.end > WAL_HEADER_SIZE


def wal_position(db: Path) -> WalPosition | None:
    """Read the WAL of ``db``: the end of its last committed frame. ``None`` if there is no WAL content."""
    wal = wal_path(db)
    try:
        handle = wal.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        header = handle.read(_WAL_HEADER.size)
        if len(header) < _WAL_HEADER.size:
            return None
        _, _, page_size, _, salt1, salt2, _, _ = _WAL_HEADER.unpack(header)
        frame_size = _WAL_FRAME_HEADER.size + page_size
        offset = end = _WAL_HEADER.size
        while True:
            handle.seek(offset)
            frame = handle.read(_WAL_FRAME_HEADER.size)
            if len(frame) < _WAL_FRAME_HEADER.size:
                break
            _, commit, f_salt1, f_salt2, _, _ = _WAL_FRAME_HEADER.unpack(frame)
            if (f_salt1, f_salt2) != (salt1, salt2):
                break
            offset += frame_size
            if commit:
                end = offset
    return WalPosition((salt1, salt2), end)


@dataclass(frozen=True)
class LtxPosition:
    """What litestream 0.5 last captured of a database: its newest local LTX file header."""

    max_txid: int
    wal_salts: tuple[int, int]
    wal_end: int


def latest_ltx(db: Path) -> LtxPosition | None:
    """The header of the newest level-0 LTX file litestream 0.5 wrote for ``db``, if any (None while unreadable)."""
    files = _level0_files(db)
    return _ltx_header(files[0]) if files else None


def level0_ltx(db: Path) -> Iterator[LtxPosition]:
    """The headers of the level-0 LTX files litestream 0.5 keeps locally for ``db``, the newest first; a file
    compacted away meanwhile, or not (yet) readable as an LTX file, is passed over."""
    for path in _level0_files(db):
        header = _ltx_header(path)
        if header is not None:
            yield header


def _level0_files(db: Path) -> list[Path]:
    """The local level-0 LTX files, the newest first (named by their transactions, zero-padded hex)."""
    folder = litestream_meta(db) / "ltx" / "0"
    return sorted(folder.glob("*.ltx"), reverse=True) if folder.is_dir() else []


def _ltx_header(path: Path) -> LtxPosition | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_LTX_HEADER.size)
    except OSError:  # gone (compacted away) or unreadable: it proves nothing
        return None
    if len(raw) < _LTX_HEADER.size or raw[:4] != b"LTX1":
        return None
    _, _, _, _, _, max_txid, _, _, wal_offset, wal_size, salt1, salt2 = _LTX_HEADER.unpack(raw)
    return LtxPosition(max_txid, (salt1, salt2), wal_offset + wal_size)


def content_digest(db: Path) -> str:
    """A digest of the schema and every row of ``db``, leaving out litestream's own tables."""
    digest = hashlib.sha256()
    with contextlib.closing(read_only(db)) as conn:
        tables = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' ORDER BY name"
        ).fetchall()
        for name, sql in tables:
            digest.update(repr((name, sql)).encode())
            quoted = '"' + name.replace('"', '""') + '"'
            try:
                rows = conn.execute(f"SELECT * FROM {quoted} ORDER BY rowid")
            except sqlite3.OperationalError:  # WITHOUT ROWID tables are stored in key order
                rows = conn.execute(f"SELECT * FROM {quoted}")
            for row in rows:
                digest.update(repr(row).encode())
    return digest.hexdigest()


def size_words(size: int) -> str:
    """A file size for a person: bytes up to 100 kB, else megabytes.

    >>> size_words(8192), size_words(52_428_800)
    ('8,192 bytes', '52.4 MB')
    """
    return f"{size:,} bytes" if size < 100_000 else f"{size / 1e6:.1f} MB"
