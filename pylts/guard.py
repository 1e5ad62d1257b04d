"""The guard: when pylts dies, even by SIGKILL, it stops the app first and litestream after it.

pylts starts one guard per Python process (``pylts/runner.py``, on the first child) and keeps
the other end of a Unix socket on the guard's stdin. Over it, pylts tells the guard about
every child process group it starts (its role, ``app`` or ``litestream``, its stop grace, and
copies of the read ends of its output pipes), when one was asked to stop, and when one is gone.
A forked copy of pylts that serves the app (a gunicorn worker, forked by a master that
replicates) tells the guard about itself, a single process rather than a group, as it starts
(``runner.guard_next_fork``): it commits as the app does, so it counts as the app.
The socket closes when pylts exits, whichever way: the kernel closes it even after SIGKILL.
At that end of file the guard does what pylts would have done on its way out, in the order
that keeps every commit:

1. SIGTERM every app group and app process not yet asked to stop, and wait until each is
   gone (a zombie counts as gone), at most its grace; SIGKILL what is left and wait up to
   ``KILL_WAIT``. A process is signalled only while its start time is the one it told: a pid
   taken over by another program is left alone.
2. Only then SIGTERM every litestream group not yet asked to stop, so its final sync sees
   every commit the app made; wait for it the same way, then exit.

All the while it reads (and drops) what the children print: once pylts is gone nobody else
reads their pipes, and litestream, a Go program, dies of SIGPIPE at its next log line (Go
does not honour an inherited "ignore SIGPIPE"), before its final sync.

After a clean exit pylts has forgotten every child, and the guard exits at once.

What this does not cover: a kill of pylts in the microseconds between starting a child
and telling the guard (that child is not stopped) or between reaping one and telling the
guard (its group id is signalled although it is gone; harmless unless a new group took
that id in between). A guard that died and was started again while pylts ran is told about
pylts' own children again, not about the forked workers that announced themselves to the old
one. A supervisor that signals every process at once (systemd's default
``KillMode=control-group``) bypasses the order: the app and litestream get SIGTERM together.

The guard runs as ``python -I pylts/guard.py`` with only the standard library: it starts
in milliseconds, imports nothing of the app's (isolated mode puts neither the script's
folder nor ``PYTHONPATH`` on ``sys.path``), and never sees the credentials. It
has its own session (a terminal's Ctrl-C does not reach it) and ignores SIGINT, SIGHUP and
SIGTERM: a signal meant for pylts must not take the order away. It ends on its own once
the socket closes and its groups are gone, so it never outlives its purpose.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

APP = "app"
LITESTREAM = "litestream"
#: Seconds a group may take to disappear after SIGKILL before the guard stops waiting for it.
KILL_WAIT = 5.0
_POLL = 0.02
_MAX_FDS = 64


@dataclass
class Group:
    """A process group pylts started: what it is, how long it may take to stop, whether it was asked to.

    With ``start`` it is one process (a forked worker) instead: its pid and its start time.
    """

    role: str
    grace: float
    outputs: list[int] = field(default_factory=list)  # read ends of its output pipes
    asked_to_stop: bool = False
    start: str | None = None

    def alive(self, key: int) -> bool:
        """Whether the group ``key`` (or, for a process, the process ``key`` that started at ``start``) still runs."""
        return group_alive(key) if self.start is None else process_alive(key, self.start)

    def signal(self, key: int, signum: int) -> None:
        """Send ``signum`` to the group, or to the process if it is still the one that told the guard."""
        if self.start is None:
            _signal(key, signum)
        elif process_alive(key, self.start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(key, signum)


def watch_message(role: str, pgid: int, grace: float, outputs: int) -> bytes:
    """The line telling the guard about a new group; the ``outputs`` pipe ends travel with it.

    >>> watch_message("app", 4242, 30, 0)
    b'watch app 4242 30 0\\n'
    """
    return f"watch {role} {pgid} {grace:g} {outputs}\n".encode()


def process_message(role: str, pid: int, grace: float, start: str) -> bytes:
    """The line a forked worker sends about itself: stop this process (not a group) with the ``role`` ones.

    >>> process_message("app", 4243, 30, "81234")
    b'process app 4243 30 81234\\n'
    """
    return f"process {role} {pid} {grace:g} {start}\n".encode()


def stopping_message(pgid: int) -> bytes:
    """The line saying pylts already asked a group to stop (so a second signal does not skip its final sync)."""
    return f"stopping {pgid}\n".encode()


def gone_message(pgid: int) -> bytes:
    """The line saying a group's leader was reaped, so the guard forgets it."""
    return f"gone {pgid}\n".encode()


def apply(line: str, groups: dict[int, Group], received: deque[int]) -> None:
    """Update ``groups`` with one message, taking its pipe ends from ``received``; ignore a line that is not one.

    >>> groups = {}
    >>> apply("watch app 7 30 0", groups, deque()); apply("stopping 7", groups, deque()); groups
    {7: Group(role='app', grace=30.0, outputs=[], asked_to_stop=True, start=None)}
    >>> apply("gone 7", groups, deque()); apply("nonsense", groups, deque()); groups
    {}
    >>> me = os.getpid()
    >>> apply(f"process app {me} 30 {process_start(me)}", groups, deque()); list(groups) == [me]
    True
    """
    words = line.split()
    try:
        if len(words) == 5 and words[0] == "watch" and words[1] in (APP, LITESTREAM):
            outputs = [received.popleft() for _ in range(min(int(words[4]), len(received)))]
            groups[int(words[2])] = Group(words[1], float(words[3]), outputs)
        elif len(words) == 5 and words[0] == "process" and words[1] in (APP, LITESTREAM):
            for key in [key for key, group in groups.items() if group.start is not None and not group.alive(key)]:
                del groups[key]  # workers that exited while pylts ran: the guard holds only the living
            groups[int(words[2])] = Group(words[1], float(words[3]), start=words[4])
        elif len(words) == 2 and words[0] == "stopping" and int(words[1]) in groups:
            groups[int(words[1])].asked_to_stop = True
        elif len(words) == 2 and words[0] == "gone" and int(words[1]) in groups:
            for fd in groups.pop(int(words[1])).outputs:
                os.close(fd)
    except ValueError:
        pass


def stop_in_order(groups: dict[int, Group]) -> None:
    """Stop the app groups and processes and wait until they are gone; only then stop the litestream groups."""
    outputs = [fd for group in groups.values() for fd in group.outputs]
    for role in (APP, LITESTREAM):
        stop({pgid: group for pgid, group in groups.items() if group.role == role}, outputs)


def stop(groups: dict[int, Group], outputs: list[int], say: Callable[[str], None] | None = None) -> None:
    """SIGTERM each group not asked yet; SIGKILL each still there after its grace; return once all are gone.

    While waiting, it drains ``outputs`` (and removes those that reached their end). What it does
    is told to ``say`` (by default, the guard's stderr).
    """
    if not groups:
        return
    say = say or _say
    say(f"stopping {', '.join(_name(pgid, g) for pgid, g in groups.items())}")
    began = time.monotonic()
    for pgid, group in groups.items():
        if not group.asked_to_stop:
            group.signal(pgid, signal.SIGTERM)
    waiting, killed_at = dict(groups), {}
    while waiting:
        now = time.monotonic()
        for pgid, group in list(waiting.items()):
            if not group.alive(pgid):
                del waiting[pgid]
            elif pgid not in killed_at and now - began >= group.grace:
                say(f"{_name(pgid, group)} did not stop within {group.grace:g} s; killing it")
                group.signal(pgid, signal.SIGKILL)
                killed_at[pgid] = now
            elif pgid in killed_at and now - killed_at[pgid] >= KILL_WAIT:
                del waiting[pgid]  # unkillable for now (uninterruptible sleep): nothing more a guard can do
        drain(outputs, _POLL)


def drain(outputs: list[int], seconds: float) -> None:
    """Read what is waiting in ``outputs`` within ``seconds``, drop it, and close the pipes that ended."""
    if not outputs:
        time.sleep(seconds)
        return
    readable, _, _ = select.select(outputs, [], [], seconds)
    for fd in readable:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            outputs.remove(fd)
            os.close(fd)


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs; zombies (exited, not yet reaped) do not count."""
    if os.path.isdir("/proc/self"):
        return any(_running_in_group(entry, pgid) for entry in os.listdir("/proc") if entry.isdigit())
    try:  # no /proc (macOS): an orphaned zombie is reaped at once by launchd
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # the id now belongs to someone else's group
    return True


def process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (``-`` without /proc): with the pid, who it is."""
    fields = _stat(str(pid))
    return fields[19] if fields else "-"


def process_alive(pid: int, start: str) -> bool:
    """Whether process ``pid`` runs, not a zombie, and is the one that started at ``start`` (not a reused pid)."""
    if os.path.isdir("/proc/self"):
        fields = _stat(str(pid))
        return bool(fields) and fields[19] == start and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _name(key: int, group: Group) -> str:
    return f"{group.role} {'group' if group.start is None else 'process'} {key}"


def _stat(pid: str) -> list[str]:
    """The fields of ``/proc/PID/stat`` after "pid (command name)", from the state on; empty if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return []


def _running_in_group(pid: str, pgid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and int(fields[2]) == pgid and fields[0] not in ("Z", "X")


def _signal(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # nobody reads pylts' stderr any more: the stopping matters, not the words
        os.write(2, f"pylts guard: {text}\n".encode())


def read_until_pylts_is_gone(connection: socket.socket) -> dict[int, Group]:
    """Follow pylts' messages until the socket ends; return the groups still running then."""
    groups: dict[int, Group] = {}
    received: deque[int] = deque()  # pipe ends arrive with (never after) the bytes of their message
    pending = b""
    while True:
        data, fds, _flags, _address = socket.recv_fds(connection, 65536, _MAX_FDS)
        received.extend(fds)
        if not data:
            return groups
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            apply(line.decode("ascii", "replace"), groups, received)


def main() -> None:
    """Read messages until pylts is gone, then stop what it left running."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    groups = read_until_pylts_is_gone(socket.socket(fileno=sys.stdin.fileno()))
    if groups:
        _say("pylts exited without stopping its children")
        stop_in_order(groups)


if __name__ == "__main__":
    main()
