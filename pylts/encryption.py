"""Server-side encryption settings: an SSE-C customer key or an SSE-KMS key id, checked at the door.

`EncryptionSettings` is a base of `S3Settings`: its two fields, their checks, and what they add to
the replica and to litestream's environment. The SSE-C key is a secret handled like the secret
access key: litestream gets it in its environment (``PYLTS_SSE_CUSTOMER_KEY``) and a config that
names that variable; it is never in argv, a config file, a repr, a log or an error.
See docs/protection.md for what each protects against.

>>> import base64
>>> from pylts.replica import parse_replica_url
>>> key = base64.b64encode(bytes(range(32))).decode()
>>> settings = EncryptionSettings(sse_customer_key=key, _env_file=None)
>>> settings.encrypted(parse_replica_url("s3://bkt/app.db")).config_entry()["sse-customer-key"]
'${PYLTS_SSE_CUSTOMER_KEY}'
>>> key in repr(settings)
False
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from .lines.base import Line, check_encryption
from .replica import SSE_CUSTOMER_KEY_VARIABLE, S3Replica, customer_key_problem
from .settings_base import PyltsSettings

__all__ = ["EncryptionSettings"]

KMS_KEY_VARIABLE = "PYLTS_SSE_KMS_KEY_ID"


class EncryptionSettings(PyltsSettings):
    """How the store encrypts the replica's objects: with a key you keep (SSE-C) or a KMS key (SSE-KMS)."""

    sse_customer_key: SecretStr | None = Field(
        None,
        validation_alias=SSE_CUSTOMER_KEY_VARIABLE,
        repr=False,
        description="litestream 0.5 only; an SSE-C key, 32 bytes in base64 (`openssl rand -base64 32`), a secret: "
        "the store encrypts every object with it, and **a replica written with it cannot be restored without "
        "it**; see [Protection](protection.md)",
    )
    sse_kms_key_id: str | None = Field(
        None,
        validation_alias=KMS_KEY_VARIABLE,
        repr=False,
        description="litestream 0.5 only; the id, ARN or alias of the KMS key the store encrypts with (SSE-KMS, "
        "AWS); not with `sse_customer_key`; see [Protection](protection.md)",
    )

    @field_validator("sse_customer_key")
    @classmethod
    def _check_customer_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        problem = customer_key_problem(value.get_secret_value())
        if problem:
            raise ValueError(f"{SSE_CUSTOMER_KEY_VARIABLE} {problem}")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("sse_kms_key_id")
    @classmethod
    def _check_kms_key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if any(character.isspace() for character in value.strip()):
            raise ValueError(f"{KMS_KEY_VARIABLE} must be a key id, ARN or alias without spaces")
        return value.strip()

    @model_validator(mode="after")
    def _one_kind(self) -> EncryptionSettings:
        if self.sse_customer_key is not None and self.sse_kms_key_id is not None:
            raise ValueError(
                f"{SSE_CUSTOMER_KEY_VARIABLE} and {KMS_KEY_VARIABLE} are both set: an object is encrypted with one "
                "key, so keep the one you mean (SSE-C: a key you keep; SSE-KMS: a key the store's KMS keeps)"
            )
        return self

    def encrypted(self, replica: S3Replica) -> S3Replica:
        """``replica`` with these settings' encryption; an SSE-C key over plain HTTP to a public host raises.

        litestream refuses that itself (the key would cross the network in clear), but only once it runs.
        """
        if self.sse_customer_key is not None and replica.endpoint and not _private_http(replica.endpoint):
            raise ValueError(
                f"{SSE_CUSTOMER_KEY_VARIABLE} needs an https:// endpoint ({replica.endpoint} is plain HTTP to a "
                "public host, where the key would travel in clear): use https://"
            )
        return replica.with_encryption(customer_key=self.sse_customer_key is not None, kms_key_id=self.sse_kms_key_id)

    def encryption_env(self, env: dict[str, str], line: Line, replica: S3Replica) -> dict[str, str]:
        """``env`` with the SSE-C key in the variable litestream's config names (and no stray one without it).

        First, a ``line`` that cannot encrypt ``replica`` as asked raises `UnsupportedLitestreamVersion`.
        """
        check_encryption(line, replica)
        env.pop(SSE_CUSTOMER_KEY_VARIABLE, None)
        if self.sse_customer_key is not None:
            env[SSE_CUSTOMER_KEY_VARIABLE] = self.sse_customer_key.get_secret_value()
        return env

    def encryption_secrets(self) -> tuple[str, ...]:
        """The SSE-C key, if any, for redaction of whatever litestream prints."""
        return () if self.sse_customer_key is None else (self.sse_customer_key.get_secret_value(),)


def _private_http(endpoint: str) -> bool:
    """Whether ``endpoint`` is https, or http to a host litestream lets take an SSE-C key (loopback, private).

    >>> _private_http("http://127.0.0.1:9000"), _private_http("http://s3.example.com"), _private_http("https://x")
    (True, False, True)
    """
    parts = urlsplit(endpoint)
    if parts.scheme != "http":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private
