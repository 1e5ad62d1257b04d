"""Reading what litestream prints: log lines, ``Error:`` lines, and which error they mean.

Both output formats are understood: the ``key=value`` text of litestream 0.5 (and
0.3 run with a config file) and the plain lines of 0.3 run without one.

>>> line = parse_line('time=2026-11-22T12:00:00Z level=INFO msg="snapshot complete" db=app.db txid=0000000000000002')
>>> line.level, line.message, line.fields["txid"]
('INFO', 'snapshot complete', '0000000000000002')
>>> parse_line("2026/11/22 12:49:58 INFO snapshot written db=/data/app.db replica=s3").fields["db"]
'/data/app.db'
>>> error_class("Error: no matching backup files available").__name__
'NoBackupFound'

Secrets are masked only in text that is shown (`redact`): what pylts parses is read as litestream
printed it, because a short secret is a substring of everything (``s`` is in ``"size"``).
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import (
    BucketNotFound,
    CredentialsRejected,
    EncryptionKeyRequired,
    EndpointUnreachable,
    LitestreamError,
    NoBackupFound,
    ReplicationError,
    TLSSetupError,
)

_PAIR = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
#: How much of each stream a failed run's error keeps (its ``output``).
TAIL_CHARS = 4000
_PLAIN = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARN|ERROR) (.*)$")

#: Text litestream prints for a cause pylts can name, most specific first.
_CAUSES: tuple[tuple[str, type[LitestreamError]], ...] = (
    ("NoSuchBucket", BucketNotFound),
    ("stored using a form of Server Side Encryption", EncryptionKeyRequired),  # S3's answer to a read with no key
    ("InvalidAccessKeyId", CredentialsRejected),
    ("SignatureDoesNotMatch", CredentialsRejected),
    ("AccessDenied", CredentialsRejected),
    ("no EC2 IMDS role found", CredentialsRejected),
    ("failed to refresh cached credentials", CredentialsRejected),
    ("LoadCustomCABundleError", TLSSetupError),
    ("custom RootCAs", TLSSetupError),
    ("no matching backup", NoBackupFound),
    ("timestamp does not exist", NoBackupFound),
    ("no snapshots available", NoBackupFound),
    ("no generation", NoBackupFound),
    ("connection refused", EndpointUnreachable),
    ("no such host", EndpointUnreachable),
    ("i/o timeout", EndpointUnreachable),
)

#: What to do about each named cause.
HINTS: dict[type[LitestreamError], str] = {
    BucketNotFound: "create the bucket, or fix the bucket name in REPLICA_URL",
    EncryptionKeyRequired: (
        "the replica is encrypted with an SSE-C key: set PYLTS_SSE_CUSTOMER_KEY to the key it was written with"
    ),
    CredentialsRejected: "check LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY for this store",
    NoBackupFound: "nothing has been replicated to this REPLICA_URL yet; check the URL or back up first",
    EndpointUnreachable: "check the endpoint (REPLICA_ENDPOINT or ?endpoint=) and that the store is running",
    TLSSetupError: (
        "AWS_CA_BUNDLE or SSL_CERT_FILE names a file litestream cannot load: point it at a PEM bundle or unset it"
    ),
}


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` as it may be shown: each secret replaced with ``***``, the longest first.

    The one redaction pylts does, where text is shown (logs, exception texts, reprs), never
    before text is parsed: masking ``s`` turns litestream's ``"size"`` into ``"***ize"``.

    >>> redact("key=AKIA123 secret=s3cr3t", ["AKIA123", "s3cr3t"])
    'key=*** secret=***'
    >>> redact('{"size": 4096} token=abcd', ["abc", "abcd", "s", ""])
    '{"***ize": 4096} token=***'
    """
    hidden = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
    return re.sub("|".join(map(re.escape, hidden)), "***", text) if hidden else text


@dataclass(frozen=True)
class LogLine:
    """One parsed line of litestream output."""

    level: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str:
        """The error text the line carries (``error=`` field, or the message of an ERROR line)."""
        return self.fields.get("error", self.message if self.level == "ERROR" else "")


def parse_line(text: str) -> LogLine | None:
    """Parse one line; ``None`` for lines that are neither log records nor errors.

    >>> parse_line("Error: cannot restore, output path already exists")
    LogLine(level='ERROR', message='cannot restore, output path already exists', fields={})
    """
    text = text.strip()
    if text.startswith("Error: "):
        return LogLine("ERROR", text[len("Error: ") :])
    if text.startswith("time=") or text.startswith("level="):
        pairs = _pairs(text)
        message = pairs.pop("msg", "")
        return LogLine(pairs.pop("level", "INFO"), message, pairs)
    plain = _PLAIN.match(text)
    if plain:
        level, rest = plain.groups()
        start = _PAIR.search(rest)
        message = rest[: start.start()].strip() if start else rest
        return LogLine(level, message, _pairs(rest[len(message) :]))
    return None


def error_class(text: str) -> type[LitestreamError] | None:
    """The specific error a piece of litestream output means, or ``None`` if none is known."""
    for needle, cls in _CAUSES:
        if needle.lower() in text.lower():
            return cls
    return None


def last_error(output: str) -> str:
    """The most telling error text in some output: its ``Error:`` line, else the last ERROR record.

    >>> last_error('time=x level=ERROR msg="sync error" error="NoSuchBucket: gone"\\n'
    ...            'Error: sync database /a.db: NoSuchBucket')
    'sync database /a.db: NoSuchBucket'
    """
    found = ""
    for raw in output.splitlines():
        line = parse_line(raw)
        if line is None or line.level != "ERROR":
            continue
        if raw.startswith("Error: "):
            return line.message
        found = line.error or line.message
    return found


def _pairs(text: str) -> dict[str, str]:
    """key=value pairs; the first of a repeated key wins (slog writes time, level, msg first)."""
    pairs: dict[str, str] = {}
    for key, value in _PAIR.findall(text):
        pairs.setdefault(key, _unquote(value))
    return pairs


_ESCAPES = {"n": " ", "t": " ", "r": " "}


def _unquote(value: str) -> str:
    r"""A Go-quoted value, with line breaks and tabs folded to spaces so a message stays on one line.

    >>> _unquote(r'"NoSuchBucket: gone\n\tstatus code: 404, \"x\""')
    'NoSuchBucket: gone  status code: 404, "x"'
    """
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value[1:-1])
    return value


@dataclass(frozen=True)
class OutputLine:
    """One line litestream printed, as printed (``text``, to parse); `shown` and the repr mask its secrets."""

    stream: str  # "stdout" or "stderr"
    text: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def shown(self) -> str:
        """The line as it may be shown: its secrets masked."""
        return redact(self.text, self.secrets)

    def __repr__(self) -> str:
        return f"OutputLine(stream={self.stream!r}, text={self.shown!r})"


@dataclass(frozen=True)
class RunResult:
    """A finished litestream run: redacted argv, exit code, its whole stdout and the tail of its stderr.

    stdout and stderr are as printed, for parsing: `error_for` masks ``secrets`` in what it shows.
    """

    argv: list[str]
    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)
    seconds: float
    secrets: tuple[str, ...] = field(default=(), repr=False)


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


def exit_words(code: int | None) -> str:
    """How a process ended, as a person says it (a negative code is the signal that ended it).

    >>> exit_words(-9), exit_words(1)
    ('was killed by SIGKILL', 'exited with 1')
    """
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with {code}"


def _silent_exit(code: int) -> str:
    """How a run that printed no error ended.

    >>> _silent_exit(-9)
    'litestream was killed by SIGKILL and printed no error'
    """
    return f"litestream {exit_words(code)} and printed no error"
