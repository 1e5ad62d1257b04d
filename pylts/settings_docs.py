"""The settings table of docs/configuration.md, made from the fields (``--help`` uses `setting_help`).

Each field's ``description`` is the one home of what it means (markdown); its default is
the field's, or the ``shown_default`` a field gives when the value alone would not say it.

>>> settings_table().splitlines()[0]
'| Field | Environment | Type | Default | Meaning |'
"""

from __future__ import annotations

import enum
import typing
from datetime import timedelta
from pathlib import Path
from types import NoneType, UnionType

from pydantic import SecretStr

from .databases import DatabaseList
from .settings import S3Settings
from .settings_base import PyltsSettings, env_name, shown_default

#: The lines of docs/configuration.md between which `settings_table` is written.
BEGIN = (
    "<!-- settings table: generated from the fields by `python3 tasks.py settings-docs`; a test keeps it current -->"
)
END = "<!-- end of the settings table -->"
_KINDS: dict[object, str] = {
    SecretStr: "secret",
    timedelta: "duration",
    Path: "path",
    bool: "bool",
    float: "seconds",
    str: "text",
    list[str]: "list",
}


def settings_table(models: tuple[type[PyltsSettings], ...] = (S3Settings, DatabaseList)) -> str:
    """The markdown table of every setting of ``models``: field, environment variable, type, default, meaning."""
    rows = ["| Field | Environment | Type | Default | Meaning |", "| --- | --- | --- | --- | --- |"]
    for model in models:
        keywords = {field: keyword for keyword, field in model._KEYWORD_NAMES.items()}
        for name, field in model.model_fields.items():
            names = " or ".join(f"`{n}`" for n in (name, keywords.get(name)) if n)
            variable, default = f"`{env_name(name, field)}`", shown_default(field)
            cells = (names, variable, _type(field.annotation), default, field.description)
            rows.append("| " + " | ".join(cell or "" for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def with_settings_table(page: str) -> str:
    """``page`` (docs/configuration.md) with the text between `BEGIN` and `END` replaced by `settings_table`."""
    before, begin, rest = page.partition(BEGIN)
    _, end, after = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the page lacks the markers of the settings table: {BEGIN} ... {END}")
    return f"{before}{BEGIN}\n{settings_table()}{END}{after}"


def _type(annotation: object) -> str:
    """How a setting is written, in a word or two."""
    if isinstance(annotation, UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [_type(arg) for arg in typing.get_args(annotation) if arg is not NoneType]
        return " or ".join(dict.fromkeys(kinds))
    if typing.get_origin(annotation) is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " / ".join(f"`{member.value}`" for member in annotation)
    return _KINDS.get(annotation, str(annotation))
