"""``ConfigS3``: the settings of one replicated SQLite database, read the pydantic way.

Values come from keyword arguments, then environment variables, then ``.env`` in
the working directory (name another file per instance with ``_env_file=``).

>>> from pylts import ConfigS3
>>> cfg = ConfigS3(key="xxx", token="yyy", s3="s3://x/x.db")
>>> cfg
ConfigS3(s3='s3://x/x.db', db='db.sqlite')
>>> cfg.dbpath.name, cfg.dbpath.parent.name
('db.sqlite', 'data')
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, ParamSpec, TypeVar

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources import ENV_FILE_SENTINEL, DotenvType

from . import backup, binary, restore
from .boot import BootPolicy, BootReport, as_boot_policy, ensure_restored
from .commands import child_env, config_yaml
from .context import RunContext, write_private
from .envfile import read_env_file
from .errors import BackupNotConfirmed, DatabaseNotFound, InvalidArgument, InvalidSettings, LitestreamTimeout
from .follow import Follower
from .lines import Line, line_for
from .migrate import MigrateReport, migrate
from .providers import preset
from .replica import S3Replica, normalize_endpoint, parse_replica_url
from .reports import ReplicaContents, RestoreReport
from .runner import Deadline
from .sqlite_files import IntegrityCheck, database_files, remove
from .status import replica_contents
from .supervisor import Replicator
from .timing import (
    BACKUP_TIMEOUT,
    FOLLOW_CHECK_INTERVAL,
    FOLLOW_INTERVAL,
    FOLLOW_READY_TIMEOUT,
    FOLLOW_STALL_TIMEOUT,
    LISTING_TIMEOUT,
    MAX_BACKOFF,
    ONE_SHOT_STOP_GRACE,
    RESTORE_TIMEOUT,
    STALL_TIMEOUT,
    STOP_TIMEOUT,
    VERIFY_TIMEOUT,
)
from .tuning import Tuning, heartbeat_url, metrics_address, parse_duration, within_limits
from .verify import VerifyResult
from .verify import verify as verify_backup
from .vfs import VfsReader

_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_S = TypeVar("_S", bound="PyltsSettings")
_P = ParamSpec("_P")
_R = TypeVar("_R")

#: The ``_env_file`` given to the settings being built, for `PyltsSettings.settings_customise_sources`.
_REQUESTED_ENV_FILE: ContextVar[DotenvType | None] = ContextVar("pylts_requested_env_file", default=ENV_FILE_SENTINEL)

#: A positive duration: ``"30s"``, ``"1h30m"``, ``"7d"`` or a number of seconds (`pylts.tuning.parse_duration`).
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


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


#: A replica check interval: a duration of at least 1 s, or ``timedelta(0)`` for off (`replica_check_interval`).
CheckInterval = Annotated[timedelta, BeforeValidator(replica_check_interval)]
#: Where litestream serves metrics, ``HOST:PORT``; a bare port is bound to 127.0.0.1 (`pylts.tuning.metrics_address`).
MetricsAddress = Annotated[str, BeforeValidator(metrics_address)]
#: An http(s) URL litestream can ping (`pylts.tuning.heartbeat_url`), secret: it is its monitor's credential.
HeartbeatUrl = Annotated[SecretStr, BeforeValidator(heartbeat_url)]

LitestreamBin = Annotated[
    Path | None, Field(validation_alias="LITESTREAM_BIN", repr=False, description="Path of the litestream executable.")
]


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

    def __init__(self, _env_file: DotenvType | None = ENV_FILE_SENTINEL, **values: Any) -> None:
        values = self._by_field_name(values)
        # The stock dotenv source would read the file before pylts could check it: hand the name to ours instead.
        requested = _REQUESTED_ENV_FILE.set(_env_file)
        try:
            super().__init__(_env_file=None, **values)
        finally:
            _REQUESTED_ENV_FILE.reset(requested)

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
        """The usual sources, with the ``.env`` file read by `pylts.envfile`."""
        requested = _REQUESTED_ENV_FILE.get()
        env_file = requested if requested != ENV_FILE_SENTINEL else settings_cls.model_config.get("env_file")
        encoding = getattr(dotenv_settings, "env_file_encoding", None)
        dotenv = _DotEnvFile(settings_cls, env_file=env_file, env_file_encoding=encoding)
        return init_settings, env_settings, dotenv, file_secret_settings


class _DotEnvFile(DotEnvSettingsSource):
    """pydantic-settings' dotenv source, reading each file with `pylts.envfile.read_env_file`.

    Only the variables that name a setting are taken: the rest of the file belongs to the app.
    """

    def __call__(self) -> dict[str, Any]:
        return EnvSettingsSource.__call__(self)  # not the stock dotenv's, which adds every other line as an extra

    def _load_env_vars(self) -> Mapping[str, str | None]:
        names = [self.env_file] if isinstance(self.env_file, (str, os.PathLike)) else list(self.env_file or ())
        values: dict[str, str | None] = {}
        for path in (Path(name).expanduser() for name in names):
            if path.is_file():
                values.update(read_env_file(path, self.env_file_encoding or "utf-8"))
        return {
            name if self.case_sensitive else name.lower(): value
            for name, value in values.items()
            if not (self.env_ignore_empty and value == "")
        }


def _timeout_renamed(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Accept ``timeout_seconds=``, the 0.0.9 (and 0.1) name of ``timeout=``, with a `DeprecationWarning`."""

    @functools.wraps(method)
    def accepting_old_name(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if "timeout_seconds" in kwargs:
            if "timeout" in kwargs:
                raise InvalidArgument("give timeout (or its old name timeout_seconds), not both")
            warnings.warn(
                f"{method.__name__}(timeout_seconds=...) is now {method.__name__}(timeout=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs["timeout"] = kwargs.pop("timeout_seconds")
        return method(*args, **kwargs)

    return accepting_old_name


def _not_confirmed(ctx: RunContext, deadline: Deadline, timeout: LitestreamTimeout) -> BackupNotConfirmed:
    """The error for a backup done whose confirmation before the delete ran out of ``deadline``."""
    return BackupNotConfirmed(
        f"the backup of {ctx.db} is done, but confirming that the replica holds all of it did not finish "
        f"within the {deadline.seconds:g} s deadline; {ctx.db} was kept: run timed_replicate again with "
        "a longer timeout",
        argv=timeout.argv,
        output=timeout.output,
    )


def _setting(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "settings"


class LitestreamSettings(PyltsSettings):
    """Only where litestream is (what ``pylts version`` needs), read by the same rules as `ConfigS3`.

    >>> LitestreamSettings(litestream_bin="/opt/litestream", _env_file=None).litestream_bin
    PosixPath('/opt/litestream')
    """

    litestream_bin: LitestreamBin = None

    def locate(self) -> binary.Litestream:
        """The litestream executable and its version (`LitestreamNotFound` says how to get one)."""
        return binary.locate(self.litestream_bin)


class ConfigS3(PyltsSettings):
    """Where a SQLite database lives locally and where litestream keeps its backup.

    Field (keyword) | Environment | Default
    --- | --- | ---
    `key` (or `access_key_id`) | `LITESTREAM_ACCESS_KEY_ID` | required for S3, unless `use_aws_credential_chain`
    `token` (or `secret_access_key`) | `LITESTREAM_SECRET_ACCESS_KEY` | required with `key`
    `s3` (or `replica_url`) | `REPLICA_URL` | required: `s3://BUCKET/PATH`
    `db` | `DB_SQLITE` | `db.sqlite`
    `folder` | `DB_FOLDER` | `./data` under the working directory
    `endpoint` | `REPLICA_ENDPOINT` | AWS; set it for R2, B2, MinIO, Tigris...
    `region` | `REPLICA_REGION` | the store's default
    `force_path_style` | `REPLICA_FORCE_PATH_STYLE` | on when `endpoint` is set
    `provider` | `REPLICA_PROVIDER` | none; `r2`, `b2`, `tigris`... fill in what the store needs
    `account_id` | `REPLICA_ACCOUNT_ID` | none; the account in the endpoint (`r2`)
    `litestream_bin` | `LITESTREAM_BIN` | next to Python, then `PATH`
    `use_aws_credential_chain` | `PYLTS_AWS_CREDENTIAL_CHAIN` | `false`
    `ready_timeout` | `PYLTS_READY_TIMEOUT` | 30 s + 0.5 s per MB of database
    `max_backoff` | `PYLTS_MAX_BACKOFF` | 10 s: the longest wait before restarting a failing litestream
    `snapshot_interval` | `PYLTS_SNAPSHOT_INTERVAL` | litestream's: `24h` (0.5), none (0.3)
    `snapshot_retention` | `PYLTS_SNAPSHOT_RETENTION` | `24h`: how far back point-in-time restore reaches
    `l0_retention` | `PYLTS_L0_RETENTION` | `5m` (0.5 only)
    `sync_interval` | `PYLTS_SYNC_INTERVAL` | `1s`; at most `10s`
    `busy_timeout` | `PYLTS_BUSY_TIMEOUT` | `1s` (0.5 only)
    `metrics_address` | `PYLTS_METRICS_ADDRESS` | off; a bare port binds 127.0.0.1
    `heartbeat_url` | `PYLTS_HEARTBEAT_URL` | off (0.5 only); a secret
    `heartbeat_interval` | `PYLTS_HEARTBEAT_INTERVAL` | `5m`; at least `1m` (0.5 only)
    `replica_check_interval` | `PYLTS_REPLICA_CHECK_INTERVAL` | `1m`; `0` or `off` turns it off

    ``access_key_id``, ``secret_access_key`` and ``replica_url`` say what ``key``, ``token``
    (the secret access key, not an AWS session token) and ``s3`` are; both names work, as
    keywords and as attributes. A misspelled keyword raises: ``ConfigS3(...)`` raises
    pydantic's ``ValidationError``, `ConfigS3.load` raises `InvalidSettings` (a `PyltsError`);
    both are ``ValueError``s.

    Examples:
        >>> cfg = ConfigS3(key="AKIAEXAMPLE", token="s3cr3t", s3="s3://backups/app.db", db="app.sqlite3")
        >>> cfg.token
        SecretStr('**********')
        >>> "s3cr3t" in repr(cfg) + str(cfg)
        False
        >>> from pydantic import ValidationError
        >>> try:
        ...     ConfigS3(key="k", token="t", s3="s3://backups/app.db", db="../app.db")
        ... except ValidationError as exc:
        ...     print(exc.errors()[0]["msg"])
        Value error, db must be a plain file name, without '/', '\\' or '..': got '../app.db';
        put the directory in folder (DB_FOLDER) instead
    """

    _KEYWORD_NAMES: ClassVar[dict[str, str]] = {
        "access_key_id": "key",
        "secret_access_key": "token",
        "replica_url": "s3",
    }

    if TYPE_CHECKING:
        # What type checkers see. Left to them, they would build a signature from the fields and refuse what users
        # write (`key="..."` for a SecretStr, `access_key_id=`, `_env_file=`); the settings check every keyword
        # when they are built, and a misspelled one raises.
        def __init__(self, _env_file: DotenvType | None = ENV_FILE_SENTINEL, **values: Any) -> None: ...

    key: SecretStr | None = Field(
        default=None,
        validation_alias="LITESTREAM_ACCESS_KEY_ID",
        repr=False,
        description="Access key id for the bucket.",
    )
    token: SecretStr | None = Field(
        default=None,
        validation_alias="LITESTREAM_SECRET_ACCESS_KEY",
        repr=False,
        description="Secret access key for the bucket.",
    )
    s3: str = Field(validation_alias="REPLICA_URL", description="Where the backup lives: s3://BUCKET/PATH[?query].")
    folder: Path = Field(
        default_factory=lambda: Path.cwd() / "data",
        validation_alias="DB_FOLDER",
        repr=False,
        description="Folder of the database.",
    )
    db: str = Field(default="db.sqlite", validation_alias="DB_SQLITE", description="File name of the database.")
    endpoint: str | None = Field(
        default=None, validation_alias="REPLICA_ENDPOINT", repr=False, description="Endpoint of an S3-compatible store."
    )
    region: str | None = Field(
        default=None, validation_alias="REPLICA_REGION", repr=False, description="Region of the bucket."
    )
    force_path_style: bool | None = Field(
        default=None,
        validation_alias="REPLICA_FORCE_PATH_STYLE",
        repr=False,
        description="Path-style addressing (on with an endpoint).",
    )
    provider: str | None = Field(
        default=None,
        validation_alias="REPLICA_PROVIDER",
        repr=False,
        description="Storage provider preset (aws, r2, b2, tigris, minio, hetzner, digitalocean, wasabi, scaleway).",
    )
    account_id: str | None = Field(
        default=None,
        validation_alias="REPLICA_ACCOUNT_ID",
        repr=False,
        description="Account id the provider's endpoint is built from (Cloudflare R2).",
    )
    litestream_bin: LitestreamBin = None
    use_aws_credential_chain: bool = Field(
        default=False,
        validation_alias="PYLTS_AWS_CREDENTIAL_CHAIN",
        repr=False,
        description="Use the AWS default credential chain (instance roles) instead of the two keys.",
    )
    boot_policy: BootPolicy = Field(
        default=BootPolicy.REFUSE,
        validation_alias="PYLTS_BOOT_POLICY",
        repr=False,
        description="When the local database and the replica disagree at boot: refuse, quarantine or adopt.",
    )
    ready_timeout: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        validation_alias="PYLTS_READY_TIMEOUT",
        repr=False,
        description="Seconds replication may take to be in sync at start (default: 30 + 0.5 per MB of database).",
    )
    max_backoff: float = Field(
        default=MAX_BACKOFF,
        gt=0,
        allow_inf_nan=False,
        validation_alias="PYLTS_MAX_BACKOFF",
        repr=False,
        description="Longest wait in seconds before restarting a litestream that keeps failing (commits wait too).",
    )
    snapshot_interval: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_SNAPSHOT_INTERVAL",
        repr=False,
        description="How often litestream writes a full snapshot of the database.",
    )
    snapshot_retention: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_SNAPSHOT_RETENTION",
        repr=False,
        description="How long snapshots are kept: how far back point-in-time restore reaches.",
    )
    l0_retention: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_L0_RETENTION",
        repr=False,
        description="How long level-0 files are kept after compaction (0.5): the finest-grained restore points.",
    )
    sync_interval: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_SYNC_INTERVAL",
        repr=False,
        description="How often litestream ships changes to the replica (at most 10 s).",
    )
    busy_timeout: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_BUSY_TIMEOUT",
        repr=False,
        description="How long litestream waits for SQLite's locks (0.5).",
    )
    metrics_address: MetricsAddress | None = Field(
        default=None,
        validation_alias="PYLTS_METRICS_ADDRESS",
        repr=False,
        description="Where litestream serves Prometheus /metrics (and Go's pprof): PORT (127.0.0.1) or HOST:PORT.",
    )
    heartbeat_url: HeartbeatUrl | None = Field(
        default=None,
        validation_alias="PYLTS_HEARTBEAT_URL",
        repr=False,
        description="A URL litestream pings while every database is in sync (0.5): a dead-man switch. A secret.",
    )
    heartbeat_interval: Duration | None = Field(
        default=None,
        validation_alias="PYLTS_HEARTBEAT_INTERVAL",
        repr=False,
        description="How often the heartbeat URL is pinged (0.5; at least 1 minute, default 5).",
    )

    replica_check_interval: CheckInterval | None = Field(
        default=None,
        validation_alias="PYLTS_REPLICA_CHECK_INTERVAL",
        repr=False,
        description="How often the replica is listed while replicating, for gaps and wipes (0/off: at starts, stop).",
    )

    @field_validator("s3")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_replica_url(value)
        return value.strip()

    @field_validator("db")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or ".." in value or os.path.isabs(value):
            raise ValueError(
                f"db must be a plain file name, without '/', '\\' or '..': got {value!r}; "
                "put the directory in folder (DB_FOLDER) instead"
            )
        if not value.lower().endswith(_DB_SUFFIXES):
            raise ValueError(f"db must end in .db, .sqlite or .sqlite3 (got {value!r}), e.g. app.db")
        return value

    @field_validator("folder")
    @classmethod
    def _absolute_folder(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("ready_timeout", mode="before")
    @classmethod
    def _empty_is_automatic(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("max_backoff", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return MAX_BACKOFF if value == "" else value

    @field_validator("provider")
    @classmethod
    def _check_provider(cls, value: str | None) -> str | None:
        return preset(value).name if value else None

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        return normalize_endpoint(value)

    @model_validator(mode="after")
    def _check_replica_and_credentials(self) -> ConfigS3:
        _ = self.replica  # building it checks that endpoint, region and path style agree with the URL
        if self.use_aws_credential_chain:
            return self
        missing = [
            env
            for env, value in (("LITESTREAM_ACCESS_KEY_ID", self.key), ("LITESTREAM_SECRET_ACCESS_KEY", self.token))
            if not value or not value.get_secret_value()
        ]
        if missing:
            raise ValueError(
                f"missing S3 credentials: set {' and '.join(missing)} (in the environment or .env), "
                "or set PYLTS_AWS_CREDENTIAL_CHAIN=true to use the AWS default chain (instance roles)"
            )
        return self

    @field_validator("sync_interval", "heartbeat_interval")
    @classmethod
    def _within_limits(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        return None if value is None else within_limits(str(info.field_name), value)

    @model_validator(mode="after")
    def _heartbeat_interval_needs_url(self) -> ConfigS3:
        if self.heartbeat_interval is not None and self.heartbeat_url is None:
            raise ValueError("heartbeat_interval needs heartbeat_url (PYLTS_HEARTBEAT_URL): where to ping")
        return self

    def __repr_args__(self) -> Any:
        yield "s3", self.s3
        yield "db", self.db
        for name in ("provider", "endpoint", "region", "force_path_style", "use_aws_credential_chain"):
            if name in self.model_fields_set:
                yield name, getattr(self, name)

    @property
    def access_key_id(self) -> SecretStr | None:
        """The access key id (the field ``key``, ``LITESTREAM_ACCESS_KEY_ID``)."""
        return self.key

    @property
    def secret_access_key(self) -> SecretStr | None:
        """The secret access key (the field ``token``, ``LITESTREAM_SECRET_ACCESS_KEY``)."""
        return self.token

    @property
    def replica_url(self) -> str:
        """Where the backup lives, ``s3://BUCKET/PATH`` (the field ``s3``, ``REPLICA_URL``)."""
        return self.s3

    @property
    def replica(self) -> S3Replica:
        """The parsed replica, with ``endpoint``, ``region`` and ``force_path_style`` merged in, then the
        ``provider`` preset filling what they leave unset.

        >>> ConfigS3(key="k", token="t", s3="s3://bkt/app.db", endpoint="http://127.0.0.1:9000").replica.url()
        's3://bkt/app.db?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true'
        >>> ConfigS3(key="k", token="t", s3="s3://bkt/app.db", provider="hetzner", region="fsn1").replica.endpoint
        'https://fsn1.your-objectstorage.com'
        """
        return self._replica_at(self.s3)

    def _replica_at(self, url: str) -> S3Replica:
        """The replica at ``url`` on the store these settings reach (endpoint, region, provider)."""
        replica = parse_replica_url(url).with_overrides(self.endpoint, self.region, self.force_path_style)
        return preset(self.provider).apply(replica, account_id=self.account_id) if self.provider else replica

    @property
    def tuning(self) -> Tuning:
        """What these settings tune in litestream's config (snapshots, retention, sync, metrics, heartbeat).

        >>> ConfigS3(key="k", token="t", s3="s3://bkt/app.db", snapshot_retention="7d").tuning.given()
        ['snapshot_retention']
        """
        return Tuning(**{field.name: getattr(self, field.name) for field in dataclasses.fields(Tuning)})

    @property
    def dbpath(self) -> Path:
        """Where the database lives locally: ``folder / db``.

        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> cfg.dbpath
        PosixPath('/srv/app/app.db')
        """
        return self.folder / self.db

    @property
    def replicate_args(self) -> list[str]:
        """argv of ``litestream replicate`` for this database; no secret is ever in it.

        On litestream 0.3 the argv names the config file pylts writes beside the database
        while it runs litestream (``get_result_on_timeout`` does; ``litestream_config()``
        gives the text for running it yourself).

        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> args = cfg.replicate_args
        >>> args[1:] in (
        ...     ["replicate", "/srv/app/app.db", "s3://bkt/app.db"],
        ...     ["replicate", "-config", "/srv/app/.app.db-pylts.yml", "-no-expand-env"],
        ... )
        True
        """
        return self._line().replicate_argv(self.dbpath, self.replica)

    @property
    def restore_args(self) -> list[str]:
        """argv of ``litestream restore`` straight into ``dbpath`` (``restore()`` stages it first).

        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> "/srv/app/app.db" in cfg.restore_args
        True
        """
        return self._line().restore_argv(self.dbpath, self.replica, self.dbpath)

    @_timeout_renamed
    def restore(
        self,
        *,
        overwrite: bool = False,
        timestamp: datetime | str | None = None,
        txid: int | str | None = None,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
    ) -> Path:
        """Restore the latest backup (or the one as of ``timestamp`` or ``txid``) to ``dbpath``; returns ``dbpath``.

        As `restore_report`, which returns what the restore did instead of the path.

        Example:
            ```python
            cfg.restore(overwrite=True)  # PosixPath('/srv/app/data/app.db'), replaced only after its checks
            ```
        """
        self.restore_report(
            overwrite=overwrite, timestamp=timestamp, txid=txid, integrity_check=integrity_check, timeout=timeout
        )
        return self.dbpath

    @_timeout_renamed
    def restore_report(
        self,
        *,
        overwrite: bool = False,
        timestamp: datetime | str | None = None,
        txid: int | str | None = None,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
    ) -> RestoreReport:
        """Restore like `restore`, and return what was restored: position, duration, integrity check.

        The backup is restored into a private folder beside the database, checked
        (``integrity_check``: ``"quick"``, ``"full"`` or ``"none"``) and only then
        moved into place, so a failure at any moment leaves ``dbpath`` as it was.
        An existing database is replaced only with ``overwrite=True``.
        ``timestamp`` is an aware datetime or an RFC 3339 string; ``txid`` an int or
        hex string (litestream 0.5 only). ``timeout`` bounds the whole call (docs/time.md).

        Example:
            ```python
            report = cfg.restore_report(overwrite=True)
            print(report.txid, report.duration_ms, report.integrity_check)  # 0000000000000003 41 quick
            ```

        Raises:
            DatabaseExists: ``dbpath`` exists and ``overwrite`` is false.
            NoBackupFound: the replica holds no backup.
            EndpointUnreachable, BucketNotFound, CredentialsRejected: the store cannot be used.
            LitestreamTimeout: ``timeout`` ran out.
            RestoreError: litestream failed for another reason (its message included).
        """
        return restore.restore(
            self._context(),
            overwrite=overwrite,
            integrity_check=integrity_check,
            deadline=Deadline(timeout),
            timestamp=timestamp,
            txid=txid,
        )

    @_timeout_renamed
    def ensure_restored(
        self,
        *,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
        policy: BootPolicy | str | None = None,
    ) -> BootReport:
        """The first line of an app: make sure the database is there, and current, before anything opens it.

        Compares the local database with the replica (one listing) and restores it when
        it is missing (``"restored"``), starts fresh when neither side has one (``"fresh"``)
        and leaves a database that is at or ahead of the replica alone (``"existing"``).
        A database that is behind the replica (`StaleDatabase`), from another history
        (`ForeignDatabase`), or replicated before to a replica that is now empty
        (`ReplicaMissing`) is refused, and nothing is changed, unless ``policy`` (default:
        the ``boot_policy`` setting, ``PYLTS_BOOT_POLICY``) says ``quarantine`` or ``adopt``
        (a `BootPolicy` or its name; another name raises `InvalidArgument` before anything is read).
        Returns a `BootReport` with the positions seen (and the `RestoreReport` of a restore).
        Several processes may call it at once: one restores, the others wait and then find
        the database.

        Example:
            ```python
            cfg.ensure_restored().value  # 'restored', 'fresh' or 'existing'
            ```
        """
        chosen = self.boot_policy if policy is None else as_boot_policy(policy)
        deadline = Deadline(timeout)
        return ensure_restored(self._context(), integrity_check=integrity_check, deadline=deadline, policy=chosen)

    @_timeout_renamed
    def timed_replicate(self, timeout: float = BACKUP_TIMEOUT, *, delete: bool = True) -> bool:
        """Back up the database once; return as soon as the backup is durable.

        Returns True when the backup is done, False only when ``timeout`` ran out
        with no cause known. A known cause (bucket missing, credentials refused,
        endpoint unreachable) raises its error within the deadline.

        As in pylts 0.0.9 the local database is then deleted, unless
        ``delete=False``; it is deleted only after confirming, under SQLite's
        write lock and within the same deadline, that the replica holds every
        committed transaction (else `BackupNotConfirmed` is raised and nothing is
        deleted). pylts 0.0.9's ``timeout_seconds=`` still works.

        Example:
            ```python
            cfg.timed_replicate(60, delete=False)  # True: the replica holds every committed transaction
            ```
        """
        deadline = Deadline(timeout)
        ctx = self._context()
        try:
            return backup.timed_backup(ctx, deadline, delete=delete)
        except LitestreamTimeout as exc:  # only the confirmation can run out of time this way
            raise _not_confirmed(ctx, deadline, exc) from None

    @_timeout_renamed
    def verify(self, *, timeout: float = VERIFY_TIMEOUT, sync: bool = False) -> VerifyResult:
        """Prove the backup restores and is current; returns ok, lagging or failed with the lag.

        Writes a sentinel row, waits for the replica to hold it (watching the
        replica, never a fixed sleep), restores into a temporary folder, checks
        integrity and the row, then removes every file it made and the sentinel
        (and its table, if verify created it). Replication must be running
        (``replicating()``, ``pylts replicate``), or pass ``sync=True`` to make a
        one-shot backup of the sentinel here. ``timeout`` running out gives ``"lagging"``.

        Example:
            ```python
            result = cfg.verify(sync=True)
            result.status, result.lag_seconds  # ('ok', 0.41)
            ```
        """
        deadline = Deadline(timeout)
        if not self.dbpath.is_file():
            raise DatabaseNotFound(f"{self.dbpath} does not exist: there is nothing to verify")
        return verify_backup(self._context(), deadline, sync=sync)

    @_timeout_renamed
    def replica_contents(self, *, timeout: float = LISTING_TIMEOUT) -> ReplicaContents:
        """What the replica holds: LTX files (litestream 0.5) or generations and snapshots (0.3).

        Example:
            ```python
            contents = cfg.replica_contents()
            contents.empty, contents.latest  # (False, datetime.datetime(2026, 11, 23, 15, 2, 7, tzinfo=...))
            ```
        """
        return replica_contents(self._context(), Deadline(timeout))

    def migrate(
        self, *, to: str | None = None, dry_run: bool = False, timeout: float = RESTORE_TIMEOUT
    ) -> MigrateReport:
        """Move a litestream 0.3 replica to 0.5's layout: restore it, check it, write it anew, prove it restores.

        Writes to the same URL, or to ``to`` (another ``s3://BUCKET/PATH`` on the same store);
        the old files stay. Running it again says there is nothing to do. The local database
        is not touched. See [Migrating](guides/migrating.md).

        Example:
            ```python
            cfg.migrate().detail  # 'restored 40 rows from litestream 0.3's layout, wrote them ...'
            ```
        """
        try:
            target = None if to is None else self._replica_at(to)
        except ValueError as exc:
            raise InvalidArgument(f"the replica to migrate to: {exc}") from None
        return migrate(self._context(), Deadline(timeout), target=target, dry_run=dry_run)

    def litestream_config(self) -> str:
        """A litestream YAML config for this database, for running litestream yourself.

        Credentials appear only as ``${LITESTREAM_ACCESS_KEY_ID}`` and
        ``${LITESTREAM_SECRET_ACCESS_KEY}`` placeholders, which litestream reads
        from its environment.

        Examples:
            >>> cfg = ConfigS3(key="k", token="tok3n-value", s3="s3://bkt/app.db", folder="/srv", db="app.db")
            >>> text = cfg.litestream_config()
            >>> "${LITESTREAM_SECRET_ACCESS_KEY}" in text, "tok3n-value" in text
            (True, False)
        """
        return config_yaml(self._line(), {self.dbpath: self.replica}, credential_placeholders=True, tuning=self.tuning)

    def write_litestream_config(self, path: str | os.PathLike[str]) -> Path:
        """Write ``litestream_config()`` to ``path``, readable by its owner only; returns the path."""
        target = Path(path)
        write_private(target, self.litestream_config())
        return target

    def replicating(
        self,
        *,
        ready_timeout: float | None = None,
        stop_timeout: float = STOP_TIMEOUT,
        max_backoff: float | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> Replicator:
        """Continuous replication of this database while a ``with`` block runs.

        Ready (in sync with the replica) when the block starts; stopped with a final
        sync when it ends. ``ready_timeout`` bounds the start (default: the
        ``ready_timeout`` setting, else 30 s + 0.5 s per MB); ``stop_timeout`` the final
        sync; ``max_backoff`` the longest wait between restarts (default: the ``max_backoff``
        setting); ``stall_timeout`` is how long a
        commit may stay out of the replica before ``status()`` reports it and a stuck
        litestream is restarted.

        Example:
            ```python
            with cfg.replicating() as replication:  # in sync when the block starts
                ...  # the app commits; replication.wait_for_sync(30) waits until the replica holds it
            ```
        """
        return Replicator(
            [self],
            ready_timeout=ready_timeout,
            stop_timeout=stop_timeout,
            max_backoff=max_backoff,
            stall_timeout=stall_timeout,
        )

    def follow(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        interval: float = FOLLOW_INTERVAL,
        stall_timeout: float = FOLLOW_STALL_TIMEOUT,
        check_interval: float = FOLLOW_CHECK_INTERVAL,
        ready_timeout: float = FOLLOW_READY_TIMEOUT,
        max_backoff: float = 30.0,
    ) -> Follower:
        """A read-only copy of the replica at ``path`` (default ``dbpath``), kept up to date while a block runs.

        Ready when the first copy is in place; litestream 0.5 only. ``interval`` is how often
        litestream polls the replica, ``stall_timeout`` how long the copy may lag without
        advancing before it is rebuilt, ``check_interval`` how often the replica is listed to
        tell. Read it with ``follower.reading()``, one connection per unit of work (see `pylts.follow`).

        Examples:
            >>> import sqlite3, tempfile
            >>> from contextlib import closing
            >>> from pylts.testing import LocalS3
            >>> s3 = LocalS3().start()
            >>> s3.create_bucket("backups")
            >>> cfg = s3.config("backups", "app.db", db="app.db", folder=tempfile.mkdtemp())
            >>> with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
            ...     _ = conn.execute("CREATE TABLE notes (body TEXT)")
            >>> cfg.timed_replicate(30)
            True
            >>> with cfg.follow() as follower, follower.reading() as conn:
            ...     conn.execute("SELECT count(*) FROM notes").fetchone()
            (0,)
            >>> s3.stop()
        """
        return Follower(
            self._context(),
            self.dbpath if path is None else Path(path),
            interval=interval,
            stall_timeout=stall_timeout,
            check_interval=check_interval,
            ready_timeout=ready_timeout,
            max_backoff=max_backoff,
        )

    def vfs_reader(self, *, ready_timeout: float = 60.0) -> VfsReader:
        """Read-only queries on the replica with no local copy, through litestream's VFS (``pylts[vfs]``).

        The extension runs in a helper process, so this process's ``sqlite3`` keeps working;
        `VfsUnavailable` says what to install where the platform lacks it (see `pylts.vfs`).
        """
        return VfsReader(self._context(), ready_timeout=ready_timeout)

    def delete(self) -> None:
        """Remove the database, its ``-wal``/``-shm`` sidecars and litestream's metadata; missing files are fine.

        >>> import tempfile
        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder=tempfile.mkdtemp())
        >>> _ = cfg.dbpath.write_bytes(b"")
        >>> cfg.delete()
        >>> cfg.dbpath.exists()
        False
        """
        remove(database_files(self.dbpath))

    def get_result_on_timeout(self, cmd: list[str], timeout: float) -> tuple[str, str]:
        """Run ``cmd`` (an argv list, e.g. `replicate_args`) for at most ``timeout`` seconds.

        litestream gets this config's credentials in its environment; when the time
        is up it gets SIGTERM, then SIGKILL a second later, and is reaped. Returns the
        newest 64 KiB of its ``(stdout, stderr)`` (``runner.TAIL_BYTES``), with the secrets masked.
        """
        deadline = Deadline(timeout)
        ctx = self._context()
        with ctx.line.temporary_config(ctx), ctx.process(cmd, stop_grace=ONE_SHOT_STOP_GRACE) as proc:
            if proc.wait(deadline.remaining()) is None:
                proc.stop()
        return proc.redact(proc.output("stdout")), proc.redact(proc.output("stderr"))

    def _line(self) -> Line:
        return line_for(binary.locate(self.litestream_bin))

    def _context(self) -> RunContext:
        line = self._line()
        line.check_tuning(self.tuning)  # before anything runs
        credentials = None
        if self.key is not None and self.token is not None and not self.use_aws_credential_chain:
            credentials = (self.key.get_secret_value(), self.token.get_secret_value())
        ping = (self.heartbeat_url.get_secret_value(),) if self.heartbeat_url else ()  # litestream logs failed pings
        return RunContext(
            line=line,
            db=self.dbpath,
            replica=self.replica,
            env=child_env(os.environ, line, credentials=credentials),
            secrets=(*(credentials or ()), *ping),
            tuning=self.tuning,
        )
