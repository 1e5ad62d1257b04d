"""What every pylts settings class shares: the strict door, the ``.env`` source, and the field types.

Values come from keyword arguments, then environment variables, then ``.env`` in the
working directory (name another file, or ``None`` for none, per instance with ``_env_file=``).
The file is read by `pylts.envfile`'s rules, through a settings source built on
pydantic-settings' public `PydanticBaseSettingsSource`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from . import binary
from .envfile import read_env_file
from .errors import InvalidSettings
from .tuning import heartbeat_url, metrics_address, parse_duration

#: What ``_env_file=`` takes: a file, several (later ones win), or ``None`` for none.
EnvFiles = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None
_S = TypeVar("_S", bound="PyltsSettings")
_SEE = re.compile(r"[;:,]? see \[[^\]]+\]\([^)]+\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


class ModelEnvFile:
    """The default of ``_env_file=``: the ``env_file`` of the settings class's ``model_config``."""

    def __repr__(self) -> str:
        return "MODEL_ENV_FILE"


MODEL_ENV_FILE = ModelEnvFile()
#: The values read from the ``.env`` file(s) of the settings being built, for `PyltsSettings`'s own source.
_FILE_VALUES: ContextVar[Mapping[str, str | None]] = ContextVar("pylts_env_file_values", default=MappingProxyType({}))


def replica_check_interval(value: object) -> timedelta:
    """How often the replica is checked while replicating: a duration of at least 1 s, or ``0``/``off`` (never).

    >>> replica_check_interval("2m"), replica_check_interval("off")
    (datetime.timedelta(seconds=120), datetime.timedelta(0))
    >>> replica_check_interval("100ms")
    Traceback (most recent call last):
    ...
    ValueError: the replica check interval must be at least 1s, or 0 / off to turn the check off
    """
    if (isinstance(value, str) and value.strip().lower() in ("0", "off")) or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    ):
        return timedelta(0)
    interval = parse_duration(value)
    if interval < timedelta(seconds=1):
        raise ValueError("the replica check interval must be at least 1s, or 0 / off to turn the check off")
    return interval


#: A positive duration: ``"30s"``, ``"1h30m"``, ``"7d"`` or a number of seconds (`pylts.tuning.parse_duration`).
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: A replica check interval: a duration of at least 1 s, or ``timedelta(0)`` for off (`replica_check_interval`).
CheckInterval = Annotated[timedelta, BeforeValidator(replica_check_interval)]
#: Where litestream serves metrics, ``HOST:PORT``; a bare port is bound to 127.0.0.1 (`pylts.tuning.metrics_address`).
MetricsAddress = Annotated[str, BeforeValidator(metrics_address)]
#: An http(s) URL litestream can ping (`pylts.tuning.heartbeat_url`), secret: it is its monitor's credential.
HeartbeatUrl = Annotated[SecretStr, BeforeValidator(heartbeat_url)]
LitestreamBin = Annotated[
    Path | None,
    Field(
        validation_alias="LITESTREAM_BIN",
        repr=False,
        description="path of a litestream 0.5 (0.5.17 or later) or 0.3.13 executable",
        json_schema_extra={"shown_default": "beside Python, then `PATH`"},
    ),
]


def setting_help(field: FieldInfo) -> str:
    """A field's description (markdown, for the docs) as plain text, for ``--help``: "see [page](link)" dropped.

    >>> setting_help(FieldInfo(description="`true` or `false`; see [Providers](providers.md)"))
    'true or false'
    """
    return _LINK.sub(r"\1", _SEE.sub("", field.description or "")).replace("`", "").replace("**", "")


def env_name(name: str, field: FieldInfo) -> str:
    """The environment variable of a field: its ``validation_alias`` (a plain name), else its own name."""
    return field.validation_alias if isinstance(field.validation_alias, str) else name


class PyltsSettings(BaseSettings):
    """Settings read the pylts way: keyword arguments, then the environment, then ``.env``.

    An empty value (``REPLICA_ENDPOINT=``) counts as unset, in the environment and in the
    file, so it never hides a value given elsewhere. The file is read by `pylts.envfile`'s
    rules; values given are never shown in validation errors (they may be secrets).

    Strict at the door: a keyword that names no setting (``ConfigS3(folde=...)``) is an
    error, not silently ignored. Other variables in the environment or in ``.env`` (the app's
    own) are not settings of pylts and are left alone.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="forbid",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    #: Keyword names that say what a setting is, for fields that keep their pylts 0.0.9 name.
    _KEYWORD_NAMES: ClassVar[dict[str, str]] = {}

    def __init__(self, _env_file: EnvFiles | ModelEnvFile = MODEL_ENV_FILE, **values: Any) -> None:
        values = self._by_field_name(values)
        files = self.model_config.get("env_file") if isinstance(_env_file, ModelEnvFile) else _env_file
        read = _FILE_VALUES.set(self._read_env_files(files))  # by pylts' rules, before pydantic sees a value
        try:
            super().__init__(_env_file=None, **values)
        finally:
            _FILE_VALUES.reset(read)

    @classmethod
    def _read_env_files(cls, files: EnvFiles) -> dict[str, str | None]:
        names = [files] if isinstance(files, (str, os.PathLike)) else list(files or ())
        encoding = cls.model_config.get("env_file_encoding") or "utf-8"
        values: dict[str, str | None] = {}
        for path in (Path(name).expanduser() for name in names):
            if path.is_file():
                values.update(read_env_file(path, encoding))
        return values

    @classmethod
    def _by_field_name(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with each keyword name (``secret_access_key``) turned into its field's (``token``)."""
        for keyword, field in cls._KEYWORD_NAMES.items():
            if keyword in values:
                if field in values:
                    raise InvalidSettings([(keyword, f"give {keyword} or its old name {field}, not both")])
                values[field] = values.pop(keyword)
        return values

    @classmethod
    def load(cls: type[_S], **values: Any) -> _S:
        """Build the settings like the constructor, but raise `InvalidSettings` (a `PyltsError`) when they are bad.

        >>> from pylts import ConfigS3
        >>> ConfigS3.load(key="k", token="t", s3="s3://Backups/app.db", _env_file=None)
        Traceback (most recent call last):
        ...
        pylts.errors.InvalidSettings: invalid settings: s3: Value error, bucket name 'Backups' is not valid: ...
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidSettings([(_setting(error), cls._problem(error)) for error in exc.errors()]) from exc

    @classmethod
    def _problem(cls, error: ErrorDetails) -> str:
        """What is wrong with one setting; for an unknown one, the names it may have meant."""
        if error["type"] != "extra_forbidden":
            return error["msg"]
        known = [*cls.model_fields, *cls._KEYWORD_NAMES]
        close = difflib.get_close_matches(_setting(error), known, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; settings are {', '.join(sorted(known))}"
        return f"no such setting{hint}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, with the ``.env`` file read by `pylts.envfile` (`EnvFileSource`)."""
        return init_settings, env_settings, EnvFileSource(settings_cls, _FILE_VALUES.get()), file_secret_settings


class EnvFileSource(PydanticBaseSettingsSource):
    """The settings among the variables of a ``.env`` file, matched like the environment's.

    Only the variables that name a setting are taken: the rest of the file belongs to the app.
    """

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]) -> None:
        super().__init__(settings_cls)
        self._fold = (lambda name: name) if self.config.get("case_sensitive") else str.lower
        ignore_empty = self.config.get("env_ignore_empty")
        self._values = {
            self._fold(name): value
            for name, value in values.items()
            if value is not None and not (ignore_empty and value == "")
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The file's value for one field (or None), the key it is given under, and that it is not complex."""
        key = env_name(field_name, field)
        return self._values.get(self._fold(key)), key, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                found[key] = value
        return found


class LitestreamSettings(PyltsSettings):
    """Only where litestream is (what ``pylts version`` needs), read by the same rules as `ConfigS3`.

    >>> LitestreamSettings(litestream_bin="/opt/litestream", _env_file=None).litestream_bin
    PosixPath('/opt/litestream')
    """

    litestream_bin: LitestreamBin = None

    def locate(self) -> binary.Litestream:
        """The litestream executable and its version (`LitestreamNotFound` says how to get one)."""
        return binary.locate(self.litestream_bin)


def _setting(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "settings"
