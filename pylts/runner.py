"""The one place that starts litestream.

Every run has a deadline, reads output as it comes, logs each line (logger
``pylts.runner``, debug level) with secrets redacted, and reaps the child on every way out: normal exit,
timeout, exception or Ctrl-C. Output that pylts parses (the stdout of a one-shot
command) is kept whole, up to `MAX_PARSED_OUTPUT` bytes; of everything else only a
tail of `TAIL_BYTES` is kept, for error messages. If pylts itself dies, even by
SIGKILL, its guard (``pylts/guard.py``) stops the app, then litestream.

Output is kept and handed on as printed, for parsing; secrets are masked (`pylts.output.redact`)
only where it is shown: the log, argv, reprs and the errors raised here.

>>> line = OutputLine("stdout", '{"size": 4096}', secrets=("s",))
>>> line.text, line.shown, line
('{"size": 4096}', '{"***ize": 4096}', OutputLine(stream='stdout', text='{"***ize": 4096}'))
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Literal, get_args

from . import guard
from .errors import CommandNotRunnable, InvalidArgument, LitestreamTimeout, UnreadableOutput
from .output import OutputLine, RunResult, redact
from .timing import LITESTREAM_STOP_GRACE, ONE_SHOT_STOP_GRACE, READER_JOIN_SECONDS, timeout_problem

logger = logging.getLogger(__name__)
#: What a child is to the guard: apps stop first, litestream after them (its final sync sees every commit).
Role = Literal["app", "litestream"]

#: Bytes of each output stream kept for error messages (the newest lines).
TAIL_BYTES = 64 * 1024
#: Most bytes of stdout a one-shot run may print when pylts parses it: about 300,000 LTX files of `ltx -json`.
MAX_PARSED_OUTPUT = 64 * 1024 * 1024


class _Output:
    """What one output stream printed: every line up to a byte limit (``whole``), else a tail of `TAIL_BYTES`.

    >>> out = _Output(whole=False)
    >>> for i in range(100_000):
    ...     out.append(f"line {i}")
    >>> out.text().splitlines()[-1], len(out.text()) <= TAIL_BYTES
    ('line 99999', True)
    """

    def __init__(self, *, whole: bool) -> None:
        self._lines: deque[str] = deque()
        self._bytes = 0
        self._whole = whole
        self.overflowed = False

    def append(self, line: str) -> None:
        self._lines.append(line)
        self._bytes += len(line) + 1
        if not self._whole:
            while self._bytes > TAIL_BYTES and len(self._lines) > 1:
                self._bytes -= len(self._lines.popleft()) + 1
        elif self._bytes > MAX_PARSED_OUTPUT:
            self.overflowed = True
            self._lines.clear()
            self._whole = False  # keep draining the pipe, remembering only a tail

    def text(self) -> str:
        return "\n".join(self._lines)


class ManagedProcess:
    """A running child (litestream, or the app run under replication), as a context manager.

    With ``capture`` (the default), output is read line by line: ``on_line`` is called
    from a reader thread for every line as it arrives. ``keep_stdout`` keeps all of
    stdout (up to `MAX_PARSED_OUTPUT` bytes), for output pylts parses; otherwise only
    a tail of `TAIL_BYTES` per stream is kept. Without ``capture``, the child writes to
    pylts' own stdout and stderr.
    Leaving the ``with`` block stops the process gracefully (SIGTERM, so litestream
    makes its final sync), kills it after ``stop_grace`` seconds, and waits for it.

    If the Python process dies first, even by SIGKILL, this process's guard does the
    same: it stops every ``role="app"`` child before any ``"litestream"`` one.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        secrets: Sequence[str] = (),
        on_line: Callable[[OutputLine], None] | None = None,
        stop_grace: float = LITESTREAM_STOP_GRACE,
        capture: bool = True,
        keep_stdout: bool = False,
        role: Role = "litestream",
    ) -> None:
        if isinstance(argv, str):
            raise InvalidArgument("pass the command as a list of arguments, not one string")
        if role not in get_args(Role):
            raise InvalidArgument(f"role must be 'app' or 'litestream' (what the guard stops first), got {role!r}")
        self.argv = [str(a) for a in argv]
        self._env = dict(env)
        self.secrets = tuple(s for s in secrets if s)
        self._on_line = on_line
        self.stop_grace = stop_grace
        self._capture = capture
        self.role = role
        self._outputs = {"stdout": _Output(whole=keep_stdout), "stderr": _Output(whole=False)}
        self._readers: list[threading.Thread] = []
        self._proc: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        #: The `Cancel` it was started under (`cancelled_by` in the starting thread), if any.
        self.cancel: Cancel | None = None

    @property
    def redacted_argv(self) -> list[str]:
        """The command line with secrets replaced (they should never be there at all)."""
        return [redact(a, self.secrets) for a in self.argv]

    def redact(self, text: str) -> str:
        """``text`` with this child's secrets masked, to show it (an error, a log line)."""
        return redact(text, self.secrets)

    @property
    def stdout_overflowed(self) -> bool:
        """Whether ``keep_stdout`` output went past `MAX_PARSED_OUTPUT` (only a tail was kept)."""
        return self._outputs["stdout"].overflowed

    @property
    def pid(self) -> int | None:
        """Process id of the running litestream, ``None`` before start."""
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """Exit code once the process has ended, else ``None``."""
        return self._proc.poll() if self._proc else None

    def output(self, stream: str) -> str:
        """What litestream printed on ``stream``, as printed (`redact` it to show it).

        All of it with ``keep_stdout``, else the newest `TAIL_BYTES`.
        """
        return self._outputs[stream].text()

    def start(self) -> ManagedProcess:
        """Start the child in its own process group, so only pylts (and its guard) signals it.

        No Python code runs between fork and exec (no ``preexec_fn``): that is not safe
        in a program with threads, and pylts always has some.
        """
        logger.debug("running %s", shlex.join(self.redacted_argv))
        self.started_at = time.monotonic()
        piped = subprocess.PIPE if self._capture else None
        try:
            self._proc = subprocess.Popen(
                self.argv,
                env=self._env,
                stdin=subprocess.DEVNULL if self._capture else None,
                stdout=piped,
                stderr=piped,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,
            )
        except OSError as exc:
            raise CommandNotRunnable(f"cannot run {self.argv[0]!r}: {exc.strerror or exc}") from None
        outputs = [pipe.fileno() for pipe in (self._proc.stdout, self._proc.stderr) if pipe is not None]
        _GUARD.watch(self.role, self._proc.pid, self.stop_grace, outputs)
        for name, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            if pipe is None:
                continue
            reader = threading.Thread(target=self._read, args=(name, pipe), daemon=True, name=f"pylts-{name}")
            reader.start()
            self._readers.append(reader)
        self.cancel = getattr(_CANCEL, "current", None)
        if self.cancel is not None and not self.cancel._enter(self):
            self.stop(ONE_SHOT_STOP_GRACE)  # cancelled before it started
        return self

    def _read(self, stream: str, pipe: IO[str]) -> None:
        with pipe:
            for raw in pipe:
                line = OutputLine(stream, raw.rstrip("\n"), self.secrets)
                self._outputs[stream].append(line.text)
                logger.debug("litestream[%s] %s", self.pid, line.shown)
                if self._on_line is not None:
                    self._on_line(line)

    def wait(self, timeout: float | None) -> int | None:
        """Wait up to ``timeout`` seconds for the exit; return the exit code or ``None``."""
        assert self._proc is not None, "start() first"
        if timeout is not None and not _exits_within(self._proc, max(timeout, 0.0)):
            return None
        return self._reap()

    def signal(self, signum: int) -> None:
        """Send a signal to the child if it is still running (SIGTERM and SIGINT ask it to stop)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signum)
            if signum in (signal.SIGTERM, signal.SIGINT):
                _GUARD.asked_to_stop(self._proc.pid)

    def stop(self, grace: float | None = None) -> int:
        """SIGTERM, wait ``grace`` seconds for the final sync, then kill; returns the exit code."""
        assert self._proc is not None, "start() first"
        if self._proc.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(self.stop_grace if grace is None else grace) is None:
                logger.warning("litestream[%s] did not stop in time; killing it", self.pid)
                self._kill_group()
        return self._reap()

    def _reap(self) -> int:
        """Reap the child; for an app, first stop what it left in its group; then tell the guard it is gone."""
        assert self._proc is not None
        code = self._proc.wait()
        if self.role == "app" and guard.group_alive(self._proc.pid):
            # An app's leader can die (a gunicorn master killed) while processes it forked (its workers)
            # still serve and commit: they are stopped before litestream's final sync, not after it.
            logger.warning("app[%s] exited and left processes in its group: stopping them", self._proc.pid)
            guard.stop({self._proc.pid: guard.Group("app", self.stop_grace)}, [], say=logger.warning)
        _GUARD.forget(self._proc.pid)
        self._join_readers()
        if self.cancel is not None:
            self.cancel._leave(self)
        return code

    def _kill_group(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=READER_JOIN_SECONDS)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is None:
            return
        try:
            self.stop()
        except BaseException:  # a second Ctrl-C while stopping: kill, but still reap
            self._kill_group()
            self._proc.wait()
            _GUARD.forget(self._proc.pid)
            raise


def _exits_within(proc: subprocess.Popen[str], timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` seconds, known the moment it does.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which made every short litestream
    command (a listing takes ~70 ms) about 40 ms late. On Linux a pidfd becomes readable when
    the process exits; elsewhere, or if the pidfd cannot be had, Popen's polling is the fallback.
    """
    if proc.poll() is not None:
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the child was reaped meanwhile
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return bool(readable)


class Cancel:
    """Stops, from another thread, the processes started under it (`cancelled_by`), and later ones.

    For work that a stop must not wait for (a snapshot to the second destination): the
    stopping thread calls `cancel`; each `ManagedProcess` started under it in the working
    thread is stopped (SIGTERM, `ONE_SHOT_STOP_GRACE`, then killed), and `run` raises
    `LitestreamTimeout` for its command.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[ManagedProcess] = set()
        self.cancelled = False

    def cancel(self) -> None:
        """Stop every command running under it now (SIGTERM, a short grace, then kill), and every later one."""
        with self._lock:
            self.cancelled = True
            running = list(self._running)
        for proc in running:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                proc.stop(ONE_SHOT_STOP_GRACE)

    def _enter(self, proc: ManagedProcess) -> bool:
        with self._lock:
            if not self.cancelled:
                self._running.add(proc)
            return not self.cancelled

    def _leave(self, proc: ManagedProcess) -> None:
        with self._lock:
            self._running.discard(proc)


_CANCEL = threading.local()


@contextlib.contextmanager
def cancelled_by(cancel: Cancel) -> Iterator[Cancel]:
    """Within the block, `run` in this thread starts its commands under ``cancel``."""
    previous = getattr(_CANCEL, "current", None)
    _CANCEL.current = cancel
    try:
        yield cancel
    finally:
        _CANCEL.current = previous


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    secrets: Sequence[str] = (),
) -> RunResult:
    """Run litestream to completion within ``timeout`` seconds.

    On timeout the process is stopped (gracefully, then killed) and
    `LitestreamTimeout` is raised with what it printed.
    Its stdout is kept whole for parsing; more than `MAX_PARSED_OUTPUT` bytes of it raises
    `UnreadableOutput` rather than handing a truncated listing to a parser.
    """
    problem = timeout_problem(timeout)
    if problem is not None:
        raise InvalidArgument(problem)
    # A one-shot command has no final sync worth waiting for: stop it quickly, within about a second.
    grace = min(timeout, ONE_SHOT_STOP_GRACE)
    with ManagedProcess(argv, env=env, secrets=secrets, stop_grace=grace, keep_stdout=True) as proc:
        code = proc.wait(timeout)
        if proc.cancel is not None and proc.cancel.cancelled:
            raise LitestreamTimeout(
                "litestream was stopped before it finished: what started it is stopping",
                argv=proc.redacted_argv,
                output=proc.redact(proc.output("stderr") or proc.output("stdout")),
            )
        if code is None:
            proc.stop()
            raise LitestreamTimeout(
                f"litestream did not finish within {timeout:.1f} s and was stopped",
                argv=proc.redacted_argv,
                output=proc.redact(proc.output("stderr") or proc.output("stdout")),
            )
    if proc.stdout_overflowed:
        raise UnreadableOutput(
            f"litestream printed more than {MAX_PARSED_OUTPUT // 2**20} MiB, more than pylts reads from one command",
            argv=proc.redacted_argv,
            returncode=code,
            output=proc.redact(proc.output("stderr")),
        )
    return RunResult(
        argv=proc.redacted_argv,
        returncode=code,
        stdout=proc.output("stdout"),
        stderr=proc.output("stderr"),
        seconds=time.monotonic() - proc.started_at,
        secrets=proc.secrets,
    )


#: The guard's environment: enough to start Python, and never the credentials.
_GUARD_ENVIRONMENT = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH")


@dataclass
class _Watched:
    """What the guard was told about one child, kept to tell a new guard if this one dies."""

    messages: list[bytes]
    outputs: list[int]  # pylts' own copies of the read ends of the child's pipes


class _Guard:
    """This process's guard (``pylts/guard.py``): started with the first child, told about every one.

    One guard per process rather than per child: it costs one idle Python process, it
    covers every child, one-shot commands included, and one guard can order app and
    litestream. It is not waited for: messages queue in its socket, so a kill right after
    the start is still handled. The socket's other end is pylts' alone (close-on-exec, and
    closed in a forked copy of pylts), so its end means pylts is gone. If the guard dies,
    the next message starts a new one and tells it everything still running.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._told: dict[int, _Watched] = {}
        self._inherited: list[subprocess.Popen[bytes]] = []
        self._next_fork_grace: float | None = None

    @property
    def pid(self) -> int | None:
        """The guard's pid, ``None`` before the first child."""
        return self._proc.pid if self._proc is not None else None

    def watched(self) -> list[int]:
        """The process groups the guard would stop if pylts died now."""
        with self._lock:
            return sorted(self._told)

    def watch(self, role: Role, pgid: int, grace: float, outputs: Sequence[int]) -> None:
        with self._lock:
            held = [os.dup(fd) for fd in outputs]
            message = guard.watch_message(role, pgid, grace, len(held))
            self._told[pgid] = _Watched([message], held)
            self._send(message, held)

    def asked_to_stop(self, pgid: int) -> None:
        with self._lock:
            if pgid in self._told:
                message = guard.stopping_message(pgid)
                self._told[pgid].messages.append(message)
                self._send(message)

    def forget(self, pgid: int) -> None:
        with self._lock:
            watched = self._told.pop(pgid, None)
            if watched is not None:
                self._send(guard.gone_message(pgid))
                for fd in watched.outputs:
                    os.close(fd)

    def _send(self, message: bytes, fds: Sequence[int] = ()) -> None:
        try:
            if self._socket is None or self._proc is None or self._proc.poll() is not None:
                connection = self._start()  # the first child, or the guard died: tell the new one everything
                for watched in self._told.values():
                    socket.send_fds(connection, [b"".join(watched.messages)], watched.outputs)
            else:
                socket.send_fds(self._socket, [message], fds)
        except OSError as exc:
            logger.warning("pylts' guard is not running (%s): if pylts is killed, its children are not stopped", exc)

    def _start(self) -> socket.socket:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        ours, theirs = socket.socketpair()
        environment = {name: os.environ[name] for name in _GUARD_ENVIRONMENT if name in os.environ}
        with theirs:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", guard.__file__],
                    env=environment,
                    stdin=theirs.fileno(),
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError:
                ours.close()
                raise
        self._socket = ours
        return ours

    def watch_next_fork(self, grace: float) -> None:
        self._next_fork_grace = grace

    def after_fork_in_parent(self) -> None:
        self._next_fork_grace = None

    def after_fork_in_child(self) -> None:
        """In a forked copy of pylts: close the parent's socket (its end must mean the parent is gone).

        A copy announced by `guard_next_fork` first tells the parent's guard about itself, on that
        socket: the message is in the guard's queue before the socket can end.
        """
        self._lock = threading.Lock()
        if self._socket is not None:
            if self._next_fork_grace is not None:
                pid = os.getpid()
                message = guard.process_message("app", pid, self._next_fork_grace, guard.process_start(pid))
                with contextlib.suppress(OSError):  # no guard: nothing to tell, and no logging in a fresh fork
                    self._socket.sendall(message)
            self._socket.close()
        self._next_fork_grace = None
        for watched in self._told.values():
            for fd in watched.outputs:
                os.close(fd)
        if self._proc is not None:
            self._inherited.append(self._proc)  # the parent's guard: not ours to wait for, nor to finalize
        self._proc, self._socket, self._told = None, None, {}


_GUARD = _Guard()
os.register_at_fork(after_in_child=_GUARD.after_fork_in_child, after_in_parent=_GUARD.after_fork_in_parent)


def guard_next_fork(grace: float) -> None:
    """Have the guard stop the next ``os.fork()`` child like an app child, before litestream, if this process dies.

    For a process that replicates and forks workers that write (gunicorn's master): call it just
    before the fork. The child tells the guard about itself; if this process is killed, the guard
    SIGTERMs it, kills it after ``grace`` seconds, and stops litestream only once it is gone.
    Without a running guard (no child started yet) there is nothing to tell.
    """
    _GUARD.watch_next_fork(grace)


def guard_pid() -> int | None:
    """pid of this process's guard, ``None`` before the first child was started."""
    return _GUARD.pid


def guarded() -> list[int]:
    """The process groups this process's guard would stop if the process died now."""
    return _GUARD.watched()
