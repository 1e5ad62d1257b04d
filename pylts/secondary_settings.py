"""Settings of the second destination: where scheduled snapshots go, how often, and with which credentials.

`SecondarySettings` is a base of `S3Settings`. With ``PYLTS_SECONDARY_URL`` set, the database's
plan (``ConfigS3.plan()``) carries a second plan (``RunContext.secondary``) for `pylts.secondary`:
the second store's replica, and a child environment with its own credentials
(``PYLTS_SECONDARY_ACCESS_KEY_ID``, ``PYLTS_SECONDARY_SECRET_ACCESS_KEY``), else the primary's.
Those are secrets handled like the primary's: only in litestream's environment, never in argv,
a repr, a log or a file.
The second store is the primary's (endpoint, region, path style) unless its URL or
``PYLTS_SECONDARY_ENDPOINT`` names another. See docs/protection.md.

>>> settings = SecondarySettings(secondary_url="s3://copies/app.db", secondary_interval="10m", _env_file=None)
>>> settings.secondary_interval.total_seconds(), settings.secondary_keep
(600.0, 24)
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator

from .layout import replica_prefix
from .replica import S3Replica, normalize_endpoint, parse_replica_url
from .settings_base import Duration, PyltsSettings
from .timing import SECONDARY_INTERVAL

__all__ = ["SecondarySettings"]


class SecondarySettings(PyltsSettings):
    """A second destination for full snapshots of the database, taken on a schedule (off unless its URL is set)."""

    secondary_url: str | None = Field(
        None,
        validation_alias="PYLTS_SECONDARY_URL",
        description="`s3://BUCKET/PATH` of a second destination (another bucket, region or provider): a full "
        "snapshot of the database goes there every `secondary_interval`, each in a folder of its own; "
        "see [Protection](protection.md#a-second-destination)",
        json_schema_extra={"shown_default": "off"},
    )
    secondary_interval: Duration = Field(
        timedelta(seconds=SECONDARY_INTERVAL),
        validation_alias="PYLTS_SECONDARY_INTERVAL",
        description="at least `1s`; how often a snapshot goes to the second destination: **what a lost primary "
        "costs at most**",
        json_schema_extra={"shown_default": "`1h`"},
    )
    secondary_keep: int = Field(
        24,
        validation_alias="PYLTS_SECONDARY_KEEP",
        ge=1,
        description="how many snapshots the second destination keeps; older ones are deleted once a newer one "
        "is proven by listing",
    )
    secondary_endpoint: str | None = Field(
        None,
        validation_alias="PYLTS_SECONDARY_ENDPOINT",
        description="`http://` or `https://` URL of the second store, when it is not the primary's",
        json_schema_extra={"shown_default": "the primary's"},
    )
    secondary_region: str | None = Field(
        None,
        validation_alias="PYLTS_SECONDARY_REGION",
        description="the second store's region",
        json_schema_extra={"shown_default": "the primary's, on the primary's store"},
    )
    secondary_access_key_id: SecretStr | None = Field(
        None,
        validation_alias="PYLTS_SECONDARY_ACCESS_KEY_ID",
        repr=False,
        description="access key id of the second store; with `secondary_secret_access_key`",
        json_schema_extra={"shown_default": "the primary's"},
    )
    secondary_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias="PYLTS_SECONDARY_SECRET_ACCESS_KEY",
        repr=False,
        description="secret access key of the second store, a secret: never shown, logged or written",
        json_schema_extra={"shown_default": "the primary's"},
    )

    @field_validator("secondary_url")
    @classmethod
    def _check_secondary_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_replica_url(value.strip())
        return value.strip()

    @field_validator("secondary_endpoint")
    @classmethod
    def _check_secondary_endpoint(cls, value: str | None) -> str | None:
        return normalize_endpoint(value)

    @field_validator("secondary_interval")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError(f"PYLTS_SECONDARY_INTERVAL must be at least 1s (got {value.total_seconds():g} s)")
        return value

    @model_validator(mode="after")
    def _both_secondary_keys(self) -> SecondarySettings:
        given = [self.secondary_access_key_id is not None, self.secondary_secret_access_key is not None]
        if any(given) and not all(given):
            raise ValueError(
                "set both PYLTS_SECONDARY_ACCESS_KEY_ID and PYLTS_SECONDARY_SECRET_ACCESS_KEY, or neither "
                "(the second store then takes the primary's credentials)"
            )
        return self

    @model_validator(mode="after")
    def _secondary_keys_with_the_credential_chain(self) -> SecondarySettings:
        # ConfigS3's field; this mixin alone has none. pylts lists and prunes the second store with keys it
        # signs with itself: the chain gives litestream keys pylts never sees, so the store would only grow.
        chain = getattr(self, "use_aws_credential_chain", False)
        if chain and self.secondary_url is not None and self.secondary_access_key_id is None:
            raise ValueError(
                "with PYLTS_AWS_CREDENTIAL_CHAIN, a second destination needs its own keys: set "
                "PYLTS_SECONDARY_ACCESS_KEY_ID and PYLTS_SECONDARY_SECRET_ACCESS_KEY (pylts lists its snapshots and "
                "deletes old ones itself, and cannot sign with the chain's credentials), or unset PYLTS_SECONDARY_URL"
            )
        return self

    @model_validator(mode="after")
    def _secondary_apart_from_primary(self) -> SecondarySettings:
        primary = getattr(self, "replica", None)  # ConfigS3's; this mixin alone has none
        if isinstance(primary, S3Replica):
            self.secondary_replica(primary)
        return self

    def secondary_replica(self, primary: S3Replica) -> S3Replica | None:
        """The second destination on its store: the primary's store unless its URL or endpoint names another.

        Raises ``ValueError`` when it would lie inside the primary's replica (or hold it).

        >>> s = SecondarySettings(secondary_url="s3://copies/app.db", _env_file=None)
        >>> s.secondary_replica(S3Replica("main", "app.db", endpoint="http://127.0.0.1:9000")).url()
        's3://copies/app.db?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true'
        """
        if self.secondary_url is None:
            return None
        replica = parse_replica_url(self.secondary_url)
        if self.secondary_endpoint is None and replica.endpoint is None:  # the primary's store
            replica = replica.with_overrides(
                primary.endpoint, self.secondary_region or replica.region or primary.region, primary.force_path_style
            )
        else:
            replica = replica.with_overrides(self.secondary_endpoint, self.secondary_region, None)
        if replica.endpoint == primary.endpoint and replica.bucket == primary.bucket:
            mine, theirs = replica_prefix(replica.path), replica_prefix(primary.path)
            if mine.startswith(theirs) or theirs.startswith(mine):
                raise ValueError(
                    f"PYLTS_SECONDARY_URL ({replica.label()}) overlaps the primary replica ({primary.label()}): "
                    "give it another bucket, or a path beside the primary's"
                )
        return replica
