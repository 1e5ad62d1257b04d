"""Reading a ``.env`` file by pylts' rules, so that a value is never silently changed or skipped.

- The file must decode (UTF-8 by default) and every line must parse; otherwise
  `InvalidSettingsFile` names the line, never its text (it may hold a secret).
- The two credentials are taken literally: a secret may contain ``$`` or ``${``.
- Other values expand ``${VAR}`` and ``${VAR:-default}`` as python-dotenv does (from earlier
  lines of the file, then the environment), except inside single quotes, as in a shell.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / ".env"
>>> _ = path.write_text("A=1\\nB=${A}/x\\nC='${A}'\\nLITESTREAM_SECRET_ACCESS_KEY=s${A}\\n")
>>> read_env_file(path)
{'A': '1', 'B': '1/x', 'C': '${A}', 'LITESTREAM_SECRET_ACCESS_KEY': 's${A}'}
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv.parser import Binding, parse_stream
from dotenv.variables import parse_variables

from .errors import InvalidSettingsFile

#: Variables read literally, never expanded.
LITERAL_NAMES = frozenset({"LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY"})
_SINGLE_QUOTED = re.compile(r"\s*(?:export\s+)?(?:'[^']+'|[^=#\s]+)\s*=\s*'")


def read_env_file(path: str | os.PathLike[str], encoding: str = "utf-8") -> dict[str, str | None]:
    """Every setting of the file, in order; raises `InvalidSettingsFile` for anything unreadable."""
    values: dict[str, str | None] = {}
    for binding in parse_stream(io.StringIO(_decode(path, encoding))):
        if binding.error:
            raise InvalidSettingsFile(
                f"line {binding.original.line} of {os.fspath(path)} cannot be read (its text is not shown: it may hold "
                "a secret); write each setting as NAME=value, quoting values that contain spaces or #"
            )
        if binding.key is not None:
            values[binding.key] = _value(binding, {**os.environ, **values})
    return values


def _decode(path: str | os.PathLike[str], encoding: str) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidSettingsFile(
            f"line {line} of {os.fspath(path)} is not {encoding.upper()} (its text is not shown: it may hold "
            f"a secret); save the file as {encoding.upper()}"
        ) from None


def _value(binding: Binding, known: Mapping[str, str | None]) -> str | None:
    literal = (binding.key or "").upper() in LITERAL_NAMES or _SINGLE_QUOTED.match(binding.original.string)
    if binding.value is None or literal:
        return binding.value
    return "".join(atom.resolve(known) for atom in parse_variables(binding.value))
