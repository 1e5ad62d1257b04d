"""What the ``pylts`` command says while it works: pylts' own log records on stderr, one line each.

A long-running command (``replicate``, with or without ``--exec``, ``follow``, ``restore``)
says what it decided and did: the boot decision and why, a restore, replicating, each restart
of litestream, health changes, the final sync, the exit. These are the library's ``INFO``
records (docs/logging.md); the command turns them on, as the library itself never does.

How much is said: ``-q`` warnings and errors only (``-qq`` errors only), the default ``INFO``,
``-v`` adds ``DEBUG`` (each litestream command and each line it prints). Without a flag,
the environment variable ``PYLTS_LOG_LEVEL`` (``error``, ``warning``, ``info``, ``debug``)
decides, as ``RUST_LOG`` or ``PIP_VERBOSE`` do for their tools; a flag wins over it.

>>> import logging
>>> logging.getLevelName(verbosity_level(verbose=0, quiet=0, environ={"PYLTS_LOG_LEVEL": "debug"}))
'DEBUG'
>>> logging.getLevelName(verbosity_level(verbose=0, quiet=1, environ={"PYLTS_LOG_LEVEL": "debug"}))
'WARNING'
>>> LineFormatter().format(logging.makeLogRecord({"msg": "restarting in %g s", "args": (2,), "levelno": 30}))
'pylts: warning: restarting in 2 s'
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import TextIO

from .errors import InvalidSettings
from .settings_base import LOG_LEVEL, UnknownSettingWarning

#: The names ``PYLTS_LOG_LEVEL`` takes, in any case.
LEVELS: Mapping[str, int] = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
_CLEAR = "\r\x1b[K"  # a progress line being rewritten on a terminal is erased first


def verbosity_level(*, verbose: int, quiet: int, environ: Mapping[str, str]) -> int:
    """The level from ``-v``/``-q`` (each may be repeated), else from ``PYLTS_LOG_LEVEL``, else ``INFO``.

    >>> verbosity_level(verbose=0, quiet=0, environ={"PYLTS_LOG_LEVEL": "loud"})
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidSettings: invalid settings: PYLTS_LOG_LEVEL: 'loud' is not a level: ...
    """
    if verbose or quiet:
        return min(max(logging.INFO + 10 * (quiet - verbose), logging.DEBUG), logging.ERROR)
    text = environ.get(LOG_LEVEL, "").strip().lower()
    if not text:
        return logging.INFO
    if text not in LEVELS:
        names = ", ".join(LEVELS)
        raise InvalidSettings([(LOG_LEVEL, f"{text!r} is not a level: give one of {names} (or -v / -q)")])
    return LEVELS[text]


class LineFormatter(logging.Formatter):
    """``pylts: MESSAGE`` for ``INFO``; other levels say theirs first (``pylts: warning: MESSAGE``)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno != logging.INFO:
            message = f"{logging.getLevelName(record.levelno).lower()}: {message}"
        return "pylts: " + " ".join(message.splitlines())  # one line each, whatever litestream printed


class _LineHandler(logging.StreamHandler[TextIO]):
    def emit(self, record: logging.LogRecord) -> None:
        if self.stream.isatty():
            self.stream.write(_CLEAR)
        super().emit(record)


def _configured_by_the_app(logger: logging.Logger) -> bool:
    """Whether a handler other than pylts' ``NullHandler`` would get pylts' records (a framework's logging)."""
    node: logging.Logger | None = logger
    while node is not None:
        if any(not isinstance(handler, logging.NullHandler) for handler in node.handlers):
            return True
        node = node.parent if node.propagate else None
    return False


@contextlib.contextmanager
def lifecycle_lines(level: int, stream: TextIO, *, asked: bool = False) -> Iterator[None]:
    """Within the block, pylts' records at ``level`` and above go to ``stream``, one line each.

    pylts' own warnings (`UnknownSettingWarning`) become such records too: ``pylts: warning: ...``,
    not Python's two-line ``file:line: Category: ...`` form, and ``-qq`` hides them like any warning.

    When the app's own logging already receives pylts' records (Django's ``LOGGING`` for
    ``manage.py pylts``), its handlers show them where it says: no second handler is added, and
    the ``pylts`` logger's level is set only when ``asked`` (a flag or ``PYLTS_LOG_LEVEL`` was given).
    """
    logger = logging.getLogger("pylts")
    handler = None if _configured_by_the_app(logger) else _LineHandler(stream)
    previous = logger.level
    if handler is not None:
        handler.setFormatter(LineFormatter())
        logger.addHandler(handler)
    if handler is not None or asked:
        logger.setLevel(level)
    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        if issubclass(category, UnknownSettingWarning):
            logger.warning("%s", message)
        else:
            shown(message, category, *args, **kwargs)  # type: ignore[arg-type]

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(previous)
