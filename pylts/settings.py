"""``S3Settings``: the settings of one replicated SQLite database, read the pydantic way, and checked.

Values come from keyword arguments, then environment variables, then ``.env`` in
the working directory (name another file per instance with ``_env_file=``), by the rules
of `pylts.settings_base`. `pylts.config.ConfigS3` is these settings with what can be done with
the database they name: it builds the run plan from them (``plan()``) and calls the operations.
Every setting: docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, JsonValue, SecretStr, ValidationInfo, field_validator, model_validator

from . import binary
from .alerting import AlertSettings
from .boot_report import BootPolicy
from .cost import CostSettings
from .encryption import EncryptionSettings
from .providers import preset
from .replica import S3Replica, normalize_endpoint, parse_replica_url
from .secondary_settings import SecondarySettings
from .settings_base import (
    MODEL_ENV_FILE,
    Duration,
    EnvFiles,
    HeartbeatUrl,
    LitestreamBin,
    MetricsAddress,
    ModelEnvFile,
    PyltsSettings,
)
from .timing import MAX_BACKOFF
from .tuning import Tuning, within_limits

__all__ = ["LitestreamSettings", "PyltsSettings", "S3Settings"]


def _env(variable: str, text: str, default: Any = None, *, shown: str | None = None, **rules: Any) -> Any:
    """A setting read from ``variable``, described by ``text``, left out of the repr; ``shown``: its default in docs."""
    extra: dict[str, JsonValue] | None = {"shown_default": shown} if shown else None
    return Field(default, validation_alias=variable, repr=False, description=text, json_schema_extra=extra, **rules)


class S3Settings(AlertSettings, SecondarySettings, CostSettings, EncryptionSettings):
    """Where a SQLite database lives locally and where litestream keeps its backup: fields and their checks.

    `pylts.config.ConfigS3` adds the operations; use it (``from pylts import ConfigS3``). Every setting, its
    environment variable, default and meaning: docs/configuration.md (generated from these fields by
    ``python3 tasks.py settings-docs``).

    ``access_key_id``, ``secret_access_key`` and ``replica_url`` say what ``key``, ``token``
    (the secret access key, not an AWS session token) and ``s3`` are; both names work, as
    keywords and as attributes. A misspelled keyword raises: the class itself raises
    pydantic's ``ValidationError``, ``load`` raises `InvalidSettings` (a `PyltsError`);
    both are ``ValueError``s.

    >>> settings = S3Settings(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
    >>> settings, settings.dbpath
    (S3Settings(s3='s3://bkt/app.db', db='app.db'), PosixPath('/srv/app/app.db'))
    """

    _KEYWORD_NAMES: ClassVar[dict[str, str]] = {
        "access_key_id": "key",
        "secret_access_key": "token",
        "replica_url": "s3",
    }

    if TYPE_CHECKING:
        # Not the fields' signature, which refuses `key="..."`, `access_key_id=`, `_env_file=`: the settings check.
        def __init__(self, _env_file: EnvFiles | ModelEnvFile = MODEL_ENV_FILE, **values: Any) -> None: ...

    key: SecretStr | None = _env(
        "LITESTREAM_ACCESS_KEY_ID", "access key id; required with `token`, unless `use_aws_credential_chain`"
    )
    token: SecretStr | None = _env(
        "LITESTREAM_SECRET_ACCESS_KEY", "secret access key (not a session token): never shown, logged or written"
    )
    s3: str = Field(
        validation_alias="REPLICA_URL",
        description="`s3://BUCKET/PATH`, optional query (`?endpoint=...&region=...`)",
    )
    folder: Path = Field(
        default_factory=lambda: Path.cwd() / "data",
        validation_alias="DB_FOLDER",
        repr=False,
        description="the database's folder; made absolute; created by `restore()` when needed",
        json_schema_extra={"shown_default": "`./data`"},
    )
    db: str = Field(
        default="db.sqlite",
        validation_alias="DB_SQLITE",
        description="a plain file name ending `.db`, `.sqlite` or `.sqlite3`",
    )
    endpoint: str | None = _env(
        "REPLICA_ENDPOINT", "`http://` or `https://` URL of an S3-compatible store", shown="AWS"
    )
    region: str | None = _env("REPLICA_REGION", "e.g. `auto` for R2, `us-west-004` for B2", shown="the store's")
    force_path_style: bool | None = _env(
        "REPLICA_FORCE_PATH_STYLE", "`false` for stores that want virtual-host addressing", shown="on with an endpoint"
    )
    provider: str | None = _env(
        "REPLICA_PROVIDER",
        "a preset that fills endpoint, region, path style, signing and upload concurrency for `aws`, `r2`, `b2`, "
        "`tigris`, `minio`, `hetzner`, `digitalocean`, `wasabi` or `scaleway`; what you set yourself wins; "
        "see [Providers](providers.md)",
    )
    account_id: str | None = _env("REPLICA_ACCOUNT_ID", "the account id a provider's endpoint is built from (`r2`)")
    litestream_bin: LitestreamBin = None
    use_aws_credential_chain: bool = _env(
        "PYLTS_AWS_CREDENTIAL_CHAIN", "`true` lets litestream use instance roles, `AWS_PROFILE`...", False
    )
    boot_policy: BootPolicy = _env(
        "PYLTS_BOOT_POLICY",
        "when the local database and the replica disagree at boot: `refuse`, `quarantine` (move the local files "
        "aside, then restore) or `adopt` (keep the local copy); see [Deploying safely](guides/deploying-safely.md)",
        BootPolicy.REFUSE,
    )
    ready_timeout: float | None = _env(
        "PYLTS_READY_TIMEOUT",
        "seconds `replicating()` / `pylts replicate` may take to be in sync at start, restore included; see "
        "[a big first sync](troubleshooting.md#a-big-database-on-a-fresh-replica)",
        shown="30 s + 0.5 s per MB of database",
        gt=0,
        allow_inf_nan=False,
    )
    max_backoff: float = _env(
        "PYLTS_MAX_BACKOFF",
        "seconds; the longest wait before restarting a litestream that keeps failing to sync (a run that synced "
        "restarts after 0.5 s); no commit reaches the replica meanwhile (`health()` says `Restarting`), so it bounds "
        "what a crash loop adds to the recovery point; the `max_backoff=` keyword of `Replicator` and others wins",
        MAX_BACKOFF,
        gt=0,
        allow_inf_nan=False,
    )
    snapshot_interval: Duration | None = _env(
        "PYLTS_SNAPSHOT_INTERVAL",
        "how often a full snapshot is written",
        shown="litestream's: `24h` (0.5), none (0.3)",
    )
    snapshot_retention: Duration | None = _env(
        "PYLTS_SNAPSHOT_RETENTION",
        "how long snapshots are kept: **how far back point-in-time restore reaches**",
        shown="`24h`",
    )
    l0_retention: Duration | None = _env(
        "PYLTS_L0_RETENTION", "litestream 0.5 only; how long restore points of every sync are kept", shown="`5m`"
    )
    sync_interval: Duration | None = _env(
        "PYLTS_SYNC_INTERVAL", "at most `10s`; how often changes are shipped to the replica", shown="`1s`"
    )
    busy_timeout: Duration | None = _env(
        "PYLTS_BUSY_TIMEOUT", "litestream 0.5 only; how long litestream waits for SQLite's locks", shown="`1s`"
    )
    metrics_address: MetricsAddress | None = _env(
        "PYLTS_METRICS_ADDRESS",
        "`9090` (bound to 127.0.0.1) or `HOST:PORT`; Prometheus `/metrics` **and Go's pprof**: see [metrics](#metrics)",
        shown="off",
    )
    heartbeat_url: HeartbeatUrl | None = _env(
        "PYLTS_HEARTBEAT_URL",
        "litestream 0.5 only; `http(s)://` URL pinged while every database is in sync, a secret: "
        "see [heartbeat](#heartbeat)",
        shown="off",
    )
    heartbeat_interval: Duration | None = _env(
        "PYLTS_HEARTBEAT_INTERVAL", "at least `1m`; needs `heartbeat_url`", shown="`5m`"
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
        if not value.lower().endswith((".db", ".sqlite", ".sqlite3")):
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
    def _check_replica_and_credentials(self) -> S3Settings:
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
    def _heartbeat_interval_needs_url(self) -> S3Settings:
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

        >>> S3Settings(key="k", token="t", s3="s3://bkt/app.db", endpoint="http://127.0.0.1:9000").replica.url()
        's3://bkt/app.db?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true'
        >>> S3Settings(key="k", token="t", s3="s3://bkt/app.db", provider="hetzner", region="fsn1").replica.endpoint
        'https://fsn1.your-objectstorage.com'
        """
        return self._replica_at(self.s3)

    def _replica_at(self, url: str) -> S3Replica:
        """The replica at ``url`` on the store these settings reach (endpoint, region, provider)."""
        replica = parse_replica_url(url).with_overrides(self.endpoint, self.region, self.force_path_style)
        preset_applied = preset(self.provider).apply(replica, account_id=self.account_id) if self.provider else replica
        return self.encrypted(preset_applied)

    @property
    def tuning(self) -> Tuning:
        """What these settings tune in litestream's config (snapshots, retention, sync, metrics, heartbeat),
        the cost profile filling in what was not set.

        >>> S3Settings(key="k", token="t", s3="s3://bkt/app.db", snapshot_retention="7d").tuning.given()
        ['snapshot_retention']
        """
        return self.profiled(Tuning(**{field.name: getattr(self, field.name) for field in dataclasses.fields(Tuning)}))

    @property
    def dbpath(self) -> Path:
        """Where the database lives locally: ``folder / db``.

        >>> settings = S3Settings(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> settings.dbpath
        PosixPath('/srv/app/app.db')
        """
        return self.folder / self.db


class LitestreamSettings(PyltsSettings):
    """Only where litestream is (what ``pylts version`` needs), read by the same rules as `S3Settings`.

    >>> LitestreamSettings(litestream_bin="/opt/litestream", _env_file=None).litestream_bin
    PosixPath('/opt/litestream')
    """

    litestream_bin: LitestreamBin = None

    def locate(self) -> binary.Litestream:
        """The litestream executable and its version (`LitestreamNotFound` says how to get one)."""
        return binary.locate(self.litestream_bin)
