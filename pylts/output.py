"""Reading what litestream prints: log lines and ``Error:`` lines (which error they mean: `pylts.errors`).

Both output formats are understood: the ``key=value`` text of litestream 0.5 (and
0.3 run with a config file) and the plain lines of 0.3 run without one.

>>> line = parse_line('time=2026-11-22T12:00:00Z level=INFO msg="snapshot complete" db=app.db txid=0000000000000002')
>>> line.level, line.message, line.fields["txid"]
('INFO', 'snapshot complete', '0000000000000002')
>>> parse_line("2026/11/22 12:49:58 INFO snapshot written db=/data/app.db replica=s3").fields["db"]
'/data/app.db'

Secrets are masked only in text that is shown (`redact`): what pylts parses is read as litestream
printed it, because a short secret is a substring of everything (``s`` is in ``"size"``).
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field

_PAIR = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_PLAIN = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARN|ERROR) (.*)$")


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

    stdout and stderr are as printed, for parsing: `pylts.failures.error_for` masks ``secrets`` in what it shows.
    """

    argv: list[str]
    returncode: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)
    seconds: float
    secrets: tuple[str, ...] = field(default=(), repr=False)


def exit_words(code: int | None) -> str:
    """How a process ended, as a person says it (a negative code is the signal that ended it).

    >>> exit_words(-9), exit_words(1)
    ('was killed by SIGKILL', 'exited with 1')
    """
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with {code}"
