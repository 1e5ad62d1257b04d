"""What every pylts settings class shares: the strict door, the sources, the ``PYLTS_`` namespace and the types.

Values come from keyword arguments, then environment variables, then ``.env`` in the
working directory (name another file, or ``None`` for none, per instance with ``_env_file=``).
The file is read by `pylts.envfile`'s rules. The environment and the file are then matched
to settings by one rule (`VariablesSource`), built on pydantic-settings' public
`PydanticBaseSettingsSource` only.

A variable named ``PYLTS_...`` that no setting reads is most likely a typo: it is reported
(`check_namespace`) with the name it may have meant, as a warning, or as `InvalidSettings`
when ``PYLTS_STRICT`` is on.
"""

from __future__ import annotations

import difflib
import enum
import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import BeforeValidator, Field, SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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
#: pylts' own namespace of variables; names under `TEST_PREFIX` belong to pylts' test suite.
PREFIX = "PYLTS_"
TEST_PREFIX = "PYLTS_TEST_"
#: Unknown ``PYLTS_`` variables are an error, not a warning, when this is true (``1``, ``true``, ``yes``, ``on``).
STRICT = "PYLTS_STRICT"
#: How much the ``pylts`` command says on stderr (`pylts.cli_log`); read from the environment only.
LOG_LEVEL = "PYLTS_LOG_LEVEL"
#: The ``PYLTS_`` variables that are not the field of a settings class, each with what it does.
OTHER_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        STRICT: "unknown PYLTS_ variables are an error (InvalidSettings) instead of a warning",
        LOG_LEVEL: "how much the pylts command says on stderr: error, warning, info or debug (-q / -v win over it)",
    }
)
_FLAG = TypeAdapter(bool)
#: The variable that lists the databases replicated beside the main one (`DatabaseList`).
DATABASES_VARIABLE = "PYLTS_DATABASES"


class UnknownSettingWarning(UserWarning):
    """A ``PYLTS_`` variable that no setting reads, in the environment or a ``.env`` file: most likely a typo."""


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


def shown_default(field: FieldInfo) -> str:
    """A field's default as the docs and ``--help`` show it (markdown): its ``shown_default``, else its value.

    >>> shown_default(FieldInfo(default=10.0)), shown_default(FieldInfo(default=None))
    ('`10`', 'none')
    """
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    if field.is_required():
        return "required"
    if field.default is None or field.default_factory is not None:
        return "none"
    value = field.default.value if isinstance(field.default, enum.Enum) else field.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


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
        paths = self._env_files(files)
        file_values = self._values_of_files(paths)  # by pylts' rules, before pydantic sees a value
        check_namespace({"the environment": os.environ, " and ".join(map(str, paths)): file_values})
        read = _FILE_VALUES.set(file_values)
        try:
            super().__init__(_env_file=None, **values)
        finally:
            _FILE_VALUES.reset(read)

    @classmethod
    def _env_files(cls, files: EnvFiles) -> list[Path]:
        names = [files] if isinstance(files, (str, os.PathLike)) else list(files or ())
        return [path for path in (Path(name).expanduser() for name in names) if path.is_file()]

    @classmethod
    def _values_of_files(cls, paths: list[Path]) -> dict[str, str | None]:
        encoding = cls.model_config.get("env_file_encoding") or "utf-8"
        values: dict[str, str | None] = {}
        for path in paths:
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
        pylts.errors.InvalidSettings: invalid settings: s3: bucket name 'Backups' is not valid: ...
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidSettings([(_setting(error), cls._problem(error)) for error in exc.errors()]) from exc

    @classmethod
    def _problem(cls, error: ErrorDetails) -> str:
        """What is wrong with one setting; for an unknown one, the names it may have meant."""
        if error["type"] == "value_error":  # a validator's own words, without pydantic's "Value error, "
            return str(error.get("ctx", {}).get("error", error["msg"]))
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
        """Keyword arguments, then the environment, then the ``.env`` file: both read by `VariablesSource`."""
        environment = VariablesSource(settings_cls, os.environ)
        return init_settings, environment, VariablesSource(settings_cls, _FILE_VALUES.get()), file_secret_settings


class VariablesSource(PydanticBaseSettingsSource):
    """The settings among some variables: the process environment's or a ``.env`` file's, by one rule.

    - A variable gives a setting when its name is the setting's environment variable
      (`env_name`: ``DB_SQLITE`` for the field ``db``), in any case. A field's own name
      (``DB=``, ``TOKEN=``) is not read: such short names belong to other programs.
    - An empty value counts as unset.
    - A list setting (``PYLTS_DATABASES``) takes a JSON list (``["a.db", "b.db"]``); a value
      that is not JSON is its text (``a.db, b.db``).
    - Every other variable is left alone: it belongs to the app.

    >>> class Demo(PyltsSettings):
    ...     folder: str = Field("data", validation_alias="DB_FOLDER")
    ...     databases: list[str] | str = Field(default_factory=list, validation_alias="PYLTS_DATABASES")
    >>> variables = {"db_folder": "/srv", "FOLDER": "/ignored", "PYLTS_DATABASES": '["a.db"]', "DEBUG": "1"}
    >>> VariablesSource(Demo, variables)()
    {'DB_FOLDER': '/srv', 'PYLTS_DATABASES': ['a.db']}
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
        """The value for one field (or None), the variable it is given by, and whether the field takes a list."""
        key = env_name(field_name, field)
        return self._values.get(self._fold(key)), key, _takes_list(field.annotation)

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, takes_list = self.get_field_value(field, name)
            if value is not None:
                found[key] = _json_or_text(value) if takes_list else value
        return found


def _takes_list(annotation: object) -> bool:
    """Whether a field's type is a list, or a union or annotation of one.

    >>> _takes_list(list[str] | str), _takes_list(Annotated[list[str], "x"]), _takes_list(str | None)
    (True, True, False)
    """
    if get_origin(annotation) is list:
        return True
    return get_origin(annotation) in (Union, UnionType, Annotated) and any(map(_takes_list, get_args(annotation)))


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def pylts_variables() -> set[str]:
    """Every ``PYLTS_`` variable pylts reads: each settings class's, and `OTHER_VARIABLES`.

    >>> {"PYLTS_BOOT_POLICY", "PYLTS_STRICT"} <= pylts_variables()
    True
    """
    names = set(OTHER_VARIABLES)
    for model in _settings_classes(PyltsSettings):
        names |= {env_name(name, field).upper() for name, field in model.model_fields.items()}
    return {name for name in names if name.startswith(PREFIX)}


def _settings_classes(model: type[PyltsSettings]) -> Iterator[type[PyltsSettings]]:
    yield model
    for subclass in model.__subclasses__():
        yield from _settings_classes(subclass)


def check_namespace(sources: Mapping[str, Mapping[str, str | None]]) -> None:
    """Report each ``PYLTS_`` variable of ``sources`` (where -> variables) that no setting reads.

    Each is an `UnknownSettingWarning` naming the closest real variable, or, when
    ``PYLTS_STRICT`` is true in one of the sources (the first that sets it wins), one
    `InvalidSettings` naming them all. Other variables, and those under `TEST_PREFIX`, are not looked at.

    >>> check_namespace({"the environment": {"PYLTS_BOOT_POLCY": "adopt", "PYLTS_STRICT": "1"}})
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidSettings: invalid settings: PYLTS_BOOT_POLCY (in the environment): not a pylts setting; \
did you mean PYLTS_BOOT_POLICY? (PYLTS_STRICT is on: fix the name or unset the variable)
    """
    strict = _strict(sources)  # a bad PYLTS_STRICT is an error whether or not anything is unknown
    known = pylts_variables()
    unknown = [
        (name, where, _did_you_mean(name.upper(), known))
        for where, variables in sources.items()
        for name in variables
        if name.upper().startswith(PREFIX) and name.upper() not in known and not name.upper().startswith(TEST_PREFIX)
    ]
    if unknown and strict:
        hint = f"({STRICT} is on: fix the name or unset the variable)"
        raise InvalidSettings(
            [(f"{name} (in {where})", f"not a pylts setting; {tip} {hint}") for name, where, tip in unknown]
        )
    for name, where, tip in unknown:
        warnings.warn(
            f"{name} is not a pylts setting; {tip} It is ignored (found in {where}; {STRICT}=1 makes this an error)",
            UnknownSettingWarning,
            stacklevel=3,  # the line that built the settings (check_namespace <- PyltsSettings.__init__ <- it)
        )


def _did_you_mean(name: str, known: set[str]) -> str:
    """The closest of the ``known`` names, compared after the prefix they all share (it would make any two alike).

    >>> _did_you_mean("PYLTS_BOOT_POLCY", {"PYLTS_BOOT_POLICY", "PYLTS_DATABASES"})
    'did you mean PYLTS_BOOT_POLICY?'
    >>> _did_you_mean("PYLTS_WHATEVER_ELSE", {"PYLTS_BOOT_POLICY", "PYLTS_DATABASES"})
    'every setting is in docs/configuration.md.'
    """
    close = difflib.get_close_matches(name.removeprefix(PREFIX), [other.removeprefix(PREFIX) for other in known], n=1)
    return f"did you mean {PREFIX}{close[0]}?" if close else "every setting is in docs/configuration.md."


def _strict(sources: Mapping[str, Mapping[str, str | None]]) -> bool:
    for where, variables in sources.items():
        given = {name.upper(): value for name, value in variables.items() if value}
        if STRICT in given:
            try:
                return _FLAG.validate_python(given[STRICT])
            except ValidationError:
                raise InvalidSettings([(f"{STRICT} (in {where})", "must be true or false (1 or 0)")]) from None
    return False


class DatabaseList(PyltsSettings):
    """The databases replicated beside the main one, read by the same rules as `ConfigS3`.

    >>> DatabaseList(databases="queue.db, cache.db=s3://backups/cache.db", _env_file=None).entries
    ['queue.db', 'cache.db=s3://backups/cache.db']
    """

    databases: list[str] | str = Field(
        default_factory=list,
        validation_alias=DATABASES_VARIABLE,
        description="more databases replicated with the main one: `FILE` or `FILE=REPLICA_URL`, comma-separated; "
        "see [Several databases](#several-databases)",
    )

    @property
    def entries(self) -> list[str]:
        """One ``FILE[=REPLICA_URL]`` per database; blanks dropped."""
        given = self.databases.split(",") if isinstance(self.databases, str) else self.databases
        return [entry.strip() for entry in given if entry.strip()]


def _setting(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "settings"
