"""gunicorn server hooks: restore and replicate in the master process, for any WSGI or ASGI app.

In ``gunicorn.conf.py``::

    from pylts.integrations.gunicorn import on_exit, on_starting

or on the command line, ``gunicorn -c python:pylts.integrations.gunicorn app:app``.

``on_starting`` runs once in the master before any worker is forked: it restores a missing
database and starts replication (in sync before the first worker boots). ``on_exit`` runs
when the master shuts down, after the workers have stopped: the final sync. Reloads
(``SIGHUP``) keep replication running. Settings come from the environment and ``.env``.
This is the same as ``pylts replicate --exec "gunicorn ..."`` without the extra process.
"""

from __future__ import annotations

from typing import Any

from ..settings import ConfigS3
from ..supervisor import Replicator

_running: list[Replicator] = []


def on_starting(server: Any) -> None:
    """gunicorn's hook before the master starts: restore if needed, then replicate until ``on_exit``."""
    replicator = ConfigS3.load().replicating()
    replicator.start()
    _running.append(replicator)


def on_exit(server: Any) -> None:
    """gunicorn's hook as the master exits: stop replication after its final sync."""
    while _running:
        _running.pop().stop()
