"""gunicorn server hooks: restore and replicate in the master process, for any WSGI or ASGI app.

In ``gunicorn.conf.py``::

    from pylts.integrations.gunicorn import on_exit, on_starting, post_fork, pre_fork

or on the command line, ``gunicorn -c python:pylts.integrations.gunicorn app:app``.

``on_starting`` runs once in the master before any worker is forked: it restores a missing
database and starts replication (in sync before the first worker boots). ``on_exit`` runs
when the master shuts down, after the workers have stopped: the final sync. Reloads
(``SIGHUP``) keep replication running. Settings come from the environment and ``.env``.
This is the same as ``pylts replicate --exec "gunicorn ..."`` without the extra process.

``pre_fork`` and ``post_fork`` keep the workers from outliving the master: if it is killed,
no worker acknowledges a write after litestream's final sync. ``pre_fork`` has each worker
tell pylts' guard about itself, so the guard stops the workers, and waits until they are
gone, before it stops litestream; ``post_fork`` (Linux) has the kernel kill each worker the
moment its master dies.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

from ..config import ConfigS3
from ..runner import guard_next_fork
from ..supervisor import Replicator

_running: list[Replicator] = []
#: ``prctl(2)`` option: the signal this process gets when the thread that forked it exits.
_PR_SET_PDEATHSIG = 1


def on_starting(server: Any) -> None:
    """gunicorn's hook before the master starts: restore if needed, then replicate until ``on_exit``."""
    replicator = ConfigS3.load().replicating()
    replicator.start()
    _running.append(replicator)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn's hook in the master before a worker is forked: the guard will stop that worker before litestream."""
    if _running:
        guard_next_fork(float(server.cfg.graceful_timeout))


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn's hook in a new worker: die with the master (Linux), or exit now if it is already gone."""
    die_with_parent(worker.ppid)


def on_exit(server: Any) -> None:
    """gunicorn's hook as the master exits: stop replication after its final sync."""
    while _running:
        _running.pop().stop()


def die_with_parent(parent: int) -> bool:
    """Have the kernel SIGKILL this process when ``parent`` (the thread that forked it) dies; ``False`` if it cannot.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere it returns ``False`` and the guard's SIGTERM
    is what stops the process. A parent that died before the call is noticed: the process exits at once.
    """
    armed = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        armed = bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    if os.getppid() != parent:  # the parent died before the death signal was armed: it will never come
        os._exit(1)
    return armed
