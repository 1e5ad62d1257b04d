"""Where the backup lives: parsing and rendering ``s3://BUCKET/PATH`` replica URLs.

Pure functions only, so every rule here is tested without litestream or a network.

>>> r = parse_replica_url("s3://backups/app/db.sqlite?endpoint=http://127.0.0.1:9000")
>>> r.bucket, r.path, r.endpoint, r.path_style
('backups', 'app/db.sqlite', 'http://127.0.0.1:9000', True)
>>> r.url()
's3://backups/app/db.sqlite?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true'
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

T = TypeVar("T")

_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$")

#: Query keys litestream 0.5 reads from an S3 replica URL, and the config key of each.
QUERY_KEYS = {
    "endpoint": "endpoint",
    "region": "region",
    "forcePathStyle": "force-path-style",
    "skipVerify": "skip-verify",
    "signPayload": "sign-payload",
    "requireContentMD5": "require-content-md5",
    "storageClass": "storage-class",
    "partSize": "part-size",
    "concurrency": "concurrency",
}
_BOOLEAN_KEYS = {"forcePathStyle", "skipVerify", "signPayload", "requireContentMD5"}
#: Options litestream's config file takes as a number only (a quoted "2" stops it: "cannot unmarshal !!str").
_INTEGER_KEYS = {"concurrency"}
#: The options litestream 0.3 reads from its config file; it has no signing, checksum or upload settings.
LEGACY_OPTIONS = {"skipVerify"}
_CREDENTIALS_HINT = "set LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY instead"
#: The variable that holds the SSE-C customer key: pylts' setting, and what litestream's config names.
SSE_CUSTOMER_KEY_VARIABLE = "PYLTS_SSE_CUSTOMER_KEY"
#: How a config names the SSE-C key: litestream fills it in from its environment (the key is never written).
SSE_CUSTOMER_KEY_PLACEHOLDER = "${" + SSE_CUSTOMER_KEY_VARIABLE + "}"
#: Query keys of litestream's that would put the SSE-C key (or its digest) on a command line.
_SECRET_QUERY_KEYS = {"sseCustomerKey", "sse-customer-key", "sseCustomerKeyMD5", "sse-customer-key-md5"}
#: SSE query keys litestream's S3 client knows and its command line ignores (0.5.17: it writes unencrypted).
_IGNORED_SSE_KEYS = {"sseKmsKeyId", "sse-kms-key-id", "sseCustomerAlgorithm", "sse-customer-algorithm"}


@dataclass(frozen=True)
class S3Replica:
    """An S3 (or S3-compatible) replica: bucket, object path and connection options.

    Path-style addressing is on whenever a custom endpoint is set, unless
    ``force_path_style`` says otherwise: MinIO, moto and most self-hosted stores need it.
    """

    bucket: str
    path: str
    endpoint: str | None = None
    region: str | None = None
    force_path_style: bool | None = None
    options: tuple[tuple[str, str], ...] = ()
    #: Whether objects are written with an SSE-C customer key (the key itself lives in the child's environment).
    sse_customer_key: bool = False
    #: The KMS key objects are encrypted with (SSE-KMS): an id, ARN or alias; not a secret.
    sse_kms_key_id: str | None = None

    @property
    def encrypted(self) -> bool:
        """Whether the store encrypts this replica's objects with a key pylts was given (SSE-C or SSE-KMS)."""
        return self.sse_customer_key or self.sse_kms_key_id is not None

    @property
    def path_style(self) -> bool:
        """Whether requests use path-style addressing (``http://host/bucket/key``)."""
        if self.force_path_style is not None:
            return self.force_path_style
        return self.endpoint is not None

    def address(self) -> tuple[str, int]:
        """Host and port litestream connects to for this replica.

        >>> S3Replica("bkt", "a.db", region="eu-west-1").address()
        ('s3.eu-west-1.amazonaws.com', 443)
        """
        if self.endpoint:
            return endpoint_address(self.endpoint)
        return (f"s3.{self.region}.amazonaws.com" if self.region else "s3.amazonaws.com", 443)

    def url(self) -> str:
        """The replica URL as litestream 0.5 reads it, options in its query string; never SSE settings.

        litestream's S3 client reads ``sseKmsKeyId`` (and the SSE-C key) from a URL's query, but its
        command line (0.5.17) builds the client without them and writes unencrypted: an encrypted
        replica is given in a config (`pylts.lines.v05.V05.temporary_config`).

        >>> S3Replica("bkt", "db.sqlite", region="auto").url()
        's3://bkt/db.sqlite?region=auto'
        """
        query: list[tuple[str, str]] = []
        if self.endpoint:
            query.append(("endpoint", self.endpoint))
        if self.region:
            query.append(("region", self.region))
        if self.path_style:
            query.append(("forcePathStyle", "true"))
        elif self.force_path_style is False:  # else litestream 0.5 turns it on for a host:port endpoint
            query.append(("forcePathStyle", "false"))
        query.extend(self.options)
        suffix = f"?{urlencode(query)}" if query else ""
        return f"s3://{self.bucket}/{self.path}{suffix}"

    def label(self) -> str:
        """The replica for a line a person reads: its bucket and path, and the store when it is not AWS.

        >>> S3Replica("bkt", "db.sqlite", endpoint="http://127.0.0.1:9000").label()
        's3://bkt/db.sqlite at http://127.0.0.1:9000'
        >>> S3Replica("bkt", "db.sqlite", endpoint="https://gw.example/s3?X-Amz-Security-Token=t").label()
        's3://bkt/db.sqlite at https://gw.example'
        >>> S3Replica("bkt", "db.sqlite", region="eu-west-1").label()
        's3://bkt/db.sqlite in eu-west-1'
        """
        where = f"s3://{self.bucket}/{self.path}"
        if self.endpoint:  # its scheme, host and port only: a path or query could carry a token
            parts = urlsplit(self.endpoint)
            return f"{where} at {parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        return f"{where} in {self.region}" if self.region else where

    def config_entry(self, *, legacy: bool = False) -> dict[str, str | bool | int]:
        """The replica as a litestream config entry (what 0.3 needs for a custom endpoint).

        With ``legacy`` (litestream 0.3) only the keys 0.3 reads are written: 0.5 and 0.3
        both skip unknown keys without a word, so a key the line lacks would look applied.

        >>> S3Replica("bkt", "db.sqlite", endpoint="http://127.0.0.1:9000", force_path_style=True).config_entry()
        {'type': 's3', 'bucket': 'bkt', 'path': 'db.sqlite',
         'endpoint': 'http://127.0.0.1:9000', 'force-path-style': True}
        >>> S3Replica("bkt", "a.db", options=(("signPayload", "true"),)).config_entry(legacy=True)
        {'type': 's3', 'bucket': 'bkt', 'path': 'a.db'}
        """
        entry: dict[str, str | bool | int] = {"type": "s3", "bucket": self.bucket, "path": self.path}
        if self.endpoint:
            entry["endpoint"] = self.endpoint
        if self.region:
            entry["region"] = self.region
        if self.path_style:
            entry["force-path-style"] = True
        elif self.force_path_style is False:
            entry["force-path-style"] = False
        for key, value in self.options:
            if not legacy or key in LEGACY_OPTIONS:
                entry[QUERY_KEYS[key]] = _option_value(key, value)
        if self.sse_customer_key and not legacy:
            entry["sse-customer-key"] = SSE_CUSTOMER_KEY_PLACEHOLDER
        if self.sse_kms_key_id and not legacy:
            entry["sse-kms-key-id"] = self.sse_kms_key_id
        return entry

    def with_encryption(self, *, customer_key: bool, kms_key_id: str | None) -> S3Replica:
        """This replica with server-side encryption: an SSE-C key given (``customer_key``) or a KMS key id.

        >>> r = parse_replica_url("s3://bkt/a.db").with_encryption(customer_key=True, kms_key_id=None)
        >>> r.config_entry()["sse-customer-key"], r.url()
        ('${PYLTS_SSE_CUSTOMER_KEY}', 's3://bkt/a.db')
        """
        return replace(self, sse_customer_key=customer_key, sse_kms_key_id=kms_key_id or None)

    def with_overrides(self, endpoint: str | None, region: str | None, force_path_style: bool | None) -> S3Replica:
        """Merge settings given outside the URL; a value given twice must agree.

        >>> parse_replica_url("s3://bkt/db.sqlite").with_overrides("http://127.0.0.1:9000", None, None).path_style
        True
        """
        return replace(
            self,
            endpoint=_agree("endpoint", self.endpoint, endpoint),
            region=_agree("region", self.region, region),
            force_path_style=_agree("force_path_style", self.force_path_style, force_path_style),
        )

    def with_defaults(
        self,
        *,
        endpoint: str | None,
        region: str | None,
        force_path_style: bool | None,
        options: tuple[tuple[str, str], ...],
    ) -> S3Replica:
        """Fill what is unset (a provider preset's values); what is set already stays.

        >>> r = parse_replica_url("s3://bkt/a.db?concurrency=4")
        >>> r.with_defaults(endpoint=None, region="auto", force_path_style=None, options=(("concurrency", "2"),)).url()
        's3://bkt/a.db?region=auto&concurrency=4'
        """
        given = {key for key, _ in self.options}
        return replace(
            self,
            endpoint=self.endpoint or endpoint,
            region=self.region or region,
            force_path_style=self.force_path_style if self.force_path_style is not None else force_path_style,
            options=self.options + tuple((key, value) for key, value in options if key not in given),
        )


def parse_replica_url(url: str) -> S3Replica:
    """Parse and check a replica URL of the form ``s3://BUCKET/PATH[?query]``.

    Raises ``ValueError`` with a message that says what is wrong and how to fix it.

    >>> parse_replica_url("s3://my bucket/db.sqlite")
    Traceback (most recent call last):
    ...
    ValueError: bucket name 'my bucket' is not valid: use at most 63 lowercase letters, digits, dots or hyphens,
    starting and ending with a letter or digit (e.g. s3://my-backups/app.db)
    """
    url = url.strip()
    if not url:
        raise ValueError("the replica URL is empty: set REPLICA_URL to s3://BUCKET/PATH")
    parts = urlsplit(url)
    if parts.scheme != "s3":
        shown = f"'{parts.scheme}://'" if parts.scheme else "none"
        raise ValueError(
            f"replica URL must start with s3:// (got scheme {shown}): "
            "write it as s3://BUCKET/PATH, for R2, B2 or MinIO too, with the endpoint set separately"
        )
    bucket, path = parts.netloc, parts.path.strip("/")
    if not bucket:
        raise ValueError("replica URL has no bucket: write it as s3://BUCKET/PATH")
    if "@" in bucket:
        raise ValueError(f"replica URL must not carry credentials: {_CREDENTIALS_HINT}")
    problem = bucket_problem(bucket)
    if problem:
        raise ValueError(problem)
    if not path:
        raise ValueError(f"replica URL has no path inside the bucket: write it as s3://{bucket}/PATH")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise ValueError(f"replica path {path!r} has an empty, '.' or '..' segment: use a plain path like app/db")
    if parts.fragment:
        raise ValueError("replica URL must not have a '#' fragment")
    return _with_query(S3Replica(bucket=bucket, path=path), parts.query)


def bucket_problem(bucket: str) -> str | None:
    """What makes ``bucket`` unusable as a bucket name in a replica URL, or ``None`` when it is fine.

    >>> bucket_problem("my-backups") is None
    True
    """
    if not _BUCKET.match(bucket) or ".." in bucket:
        return (
            f"bucket name {bucket!r} is not valid: use at most 63 lowercase letters, digits, dots or "
            "hyphens, starting and ending with a letter or digit (e.g. s3://my-backups/app.db)"
        )
    return None


def _with_query(replica: S3Replica, query: str) -> S3Replica:
    endpoint = region = None
    path_style: bool | None = None
    options: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _SECRET_QUERY_KEYS:  # the value is not shown: it is the key
            raise ValueError(
                f"replica URL option {key!r} would put the SSE-C key on litestream's command line: "
                f"remove it and set {SSE_CUSTOMER_KEY_VARIABLE} instead"
            )
        if key in _IGNORED_SSE_KEYS:
            raise ValueError(
                f"replica URL option {key!r} is ignored by litestream's command line, which would write the "
                f"replica unencrypted: remove it and set PYLTS_SSE_KMS_KEY_ID (or {SSE_CUSTOMER_KEY_VARIABLE})"
            )
        if key not in QUERY_KEYS:
            known = ", ".join(QUERY_KEYS)
            raise ValueError(f"unknown replica URL option {key!r}: litestream reads only {known}")
        if key == "endpoint":
            endpoint = _endpoint(value)
        elif key == "region":
            region = value
        elif key == "forcePathStyle":
            path_style = _truthy(value)
        else:
            _option_value(key, value)  # checked here, so a bad value never reaches a config file
            options.append((key, value))
    return replace(
        replica,
        endpoint=endpoint,
        region=region,
        force_path_style=path_style,
        options=tuple(options),
    )


def _endpoint(value: str) -> str:
    if "@" in value:  # user:password@host; the value is not shown, it holds a secret
        raise ValueError(f"endpoint must not carry credentials: {_CREDENTIALS_HINT}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"endpoint {value!r} must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000"
        )
    return value.rstrip("/")


def endpoint_address(endpoint: str) -> tuple[str, int]:
    """Host and port an endpoint URL connects to.

    >>> endpoint_address("https://abc.r2.cloudflarestorage.com")
    ('abc.r2.cloudflarestorage.com', 443)
    """
    parts = urlsplit(endpoint)
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default


def normalize_endpoint(value: str | None) -> str | None:
    """Check an endpoint given as a setting; ``None`` or blank means AWS."""
    if value is None or not value.strip():
        return None
    return _endpoint(value.strip())


def _option_value(key: str, value: str) -> str | bool | int:
    """An option's value as litestream's config file wants it: a boolean, a number, or text."""
    if key in _BOOLEAN_KEYS:
        return _truthy(value)
    if key in _INTEGER_KEYS:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"replica URL option {key}={value!r} must be a positive whole number, e.g. {key}=2")
        return int(value)
    return value


def _truthy(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no", ""):
        return False
    raise ValueError(f"replica URL option value {value!r} is not a boolean: use true or false")


def _agree(name: str, in_url: T | None, in_settings: T | None) -> T | None:
    if in_url is not None and in_settings is not None and in_url != in_settings:
        raise ValueError(
            f"{name} is given twice with different values ({in_url!r} in the replica URL, "
            f"{in_settings!r} in the settings): keep one"
        )
    return in_url if in_url is not None else in_settings


def customer_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an SSE-C customer key (never showing it), or ``None`` when it is one.

    S3 takes a 256-bit AES key; litestream wants it base64-encoded (44 characters).

    >>> customer_key_problem(base64.b64encode(bytes(32)).decode()) is None
    True
    >>> customer_key_problem("hunter2")
    'must be 32 bytes encoded in base64 (44 characters), e.g. the output of `openssl rand -base64 32`; got 7 characters'
    """
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return None
    return (
        "must be 32 bytes encoded in base64 (44 characters), e.g. the output of `openssl rand -base64 32`; "
        f"got {len(key.strip())} characters"
    )
