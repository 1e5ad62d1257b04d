"""The typed error for what a failed litestream run printed: its cause, what to do about it, and its output.

Which error litestream's words name is `pylts.errors.error_class` (with `pylts.errors.HINTS`); reading
the words out of its output is `pylts.output`. This module joins the two, and masks the run's secrets in
what the error shows, once the cause was read from what litestream printed.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import HINTS, LitestreamError, ReplicationError, error_class
from .output import RunResult, exit_words, last_error, redact

#: How much of each stream a failed run's error keeps (its ``output``).
TAIL_CHARS = 4000


def error_for(result: RunResult, default: type[LitestreamError], action: str) -> LitestreamError:
    """The typed error for a failed run: the cause litestream names, with what to do about it.

    Its ``output`` holds the tail of both streams (`TAIL_CHARS` each), for a closer look; the run's
    secrets are masked in what the error shows, after the cause was read from what litestream printed.

    >>> from pylts.errors import RestoreError
    >>> result = RunResult(["litestream", "restore"], 1, "", "Error: no matching backup files available", 0.1)
    >>> err = error_for(result, RestoreError, "restore")
    >>> type(err).__name__, str(err)
    ('NoBackupFound', 'restore failed: no matching backup files available;
    nothing has been replicated to this REPLICA_URL yet; check the URL or back up first')
    """
    text = last_error(f"{result.stderr}\n{result.stdout}") or _silent_exit(result.returncode)
    error = error_from_text(
        text, default, f"{action} failed", argv=result.argv, returncode=result.returncode, secrets=result.secrets
    )
    tails = "\n".join(tail[-TAIL_CHARS:] for tail in (result.stderr, result.stdout) if tail.strip())
    error.output = redact(tails, result.secrets) or error.output
    return error


def error_from_text(
    text: str,
    default: type[LitestreamError],
    prefix: str,
    *,
    argv: list[str],
    returncode: int | None = None,
    secrets: Iterable[str] = (),
    cause: type[LitestreamError] | None = None,
) -> LitestreamError:
    """The error litestream's ``text`` names (else ``default``), as ``"PREFIX: TEXT; what to do"``.

    ``secrets`` are masked in the error, once its cause was read from ``text``; a ``cause`` already
    read from what litestream printed (the text may be masked already) wins.

    >>> from pylts.errors import ReplicationError
    >>> str(error_from_text("NoSuchBucket: gone", ReplicationError, "backup failed", argv=[]))
    'backup failed: NoSuchBucket: gone; create the bucket, or fix the bucket name in REPLICA_URL'
    >>> error = error_from_text("AccessDenied for s", ReplicationError, "backup failed", argv=[], secrets=["s"])
    >>> type(error).__name__, error.output
    ('CredentialsRejected', 'Acce******Denied for ***')
    """
    cls = cause or error_class(text) or default
    hint = HINTS.get(cls)
    shown = redact(text, secrets)
    return cls(f"{prefix}: {shown}" + (f"; {hint}" if hint else ""), argv=argv, returncode=returncode, output=shown)


def raise_reported_error(text: str, argv: list[str], cause: type[LitestreamError] | None = None) -> None:
    """Raise the typed error for what a backup run reported; nothing reported, nothing raised.

    ``cause``: the error class already read from what litestream printed (``text`` may have secrets masked).
    """
    if text:
        raise error_from_text(text, ReplicationError, "backup failed", argv=argv, cause=cause)


def _silent_exit(code: int) -> str:
    """How a run that printed no error ended.

    >>> _silent_exit(-9)
    'litestream was killed by SIGKILL and printed no error'
    """
    return f"litestream {exit_words(code)} and printed no error"
