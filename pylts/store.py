"""Asking the store itself what it holds: a signed S3 ``ListObjectsV2``, with nothing but the standard library.

litestream answers from what it believes it wrote; a listing of the bucket answers from
what is there. One request lists up to 1,000 keys of every compaction level and of both
replica layouts at once (``litestream ltx -level all`` asks once per level).

Requests are signed with AWS Signature Version 4, as every S3-compatible store expects
(AWS, R2, B2, MinIO, Tigris, moto, rclone). The signature is checked against AWS's own
published example:

>>> from datetime import datetime, timezone
>>> creds = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
>>> headers = signed_headers(
...     creds, "GET", "examplebucket.s3.amazonaws.com", "/", [("max-keys", "2"), ("prefix", "J")],
...     region="us-east-1", now=datetime(2013, 5, 24, tzinfo=timezone.utc),
... )
>>> headers["Authorization"].rsplit("Signature=", 1)[1]
'34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import hashlib
import hmac
import http.client
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from .deadline import Deadline
from .errors import HINTS, EndpointUnreachable, ListingUnavailable, LitestreamError, LitestreamTimeout, TLSSetupError
from .failures import error_from_text
from .layout import StoredObject as StoredObject
from .replica import SSE_CUSTOMER_KEY_VARIABLE, S3Replica

#: SHA-256 of an empty body: a GET sends none.
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: The region a store without one answers to (what litestream and the AWS SDK assume).
DEFAULT_REGION = "us-east-1"
#: What AWS answers a request for a bucket of another region (with the bucket's region named, or not).
_REGION_CODES = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect", "TemporaryRedirect"})
#: Keys one ``ListObjectsV2`` page returns at most (the S3 API's own limit).
PAGE_KEYS = 1000


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and an optional session token; the repr shows none of them.

    pylts masks the access key as it masks the secret (`pylts.output.redact`), so it is not shown here either.
    """

    key: str = field(repr=False)
    secret: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        """The credentials litestream gets from ``env`` (``AWS_*`` first, then ``LITESTREAM_*``); None if absent.

        >>> Credentials.from_env({"LITESTREAM_ACCESS_KEY_ID": "k", "LITESTREAM_SECRET_ACCESS_KEY": "s"}).key
        'k'
        >>> Credentials.from_env({"HOME": "/root"}) is None
        True
        """
        for key_name, secret_name in (
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            ("LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY"),
        ):
            key, secret = env.get(key_name), env.get(secret_name)
            if key and secret:
                return cls(key, secret, env.get("AWS_SESSION_TOKEN") or None)
        return None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the key, the secret and the session token (a store's error may quote them)."""
        return tuple(filter(None, (self.key, self.secret, self.session_token)))


def list_objects(
    replica: S3Replica,
    credentials: Credentials,
    prefix: str,
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
    after: str = "",
    limit: int | None = None,
) -> list[StoredObject]:
    """Every object of ``replica``'s bucket whose key starts with ``prefix``, one request per 1,000 keys.

    With ``after``, only keys that sort after it (S3's ``start-after``); with ``limit``, at most
    that many, the first in key order (one request for up to 1,000).

    ``env`` is the child environment (its ``AWS_CA_BUNDLE`` or ``SSL_CERT_FILE`` for TLS).
    A refusal the store explains (missing bucket, rejected credentials) raises the typed
    error its code names, else ``failure``; a store that takes no connection raises
    `EndpointUnreachable`, one that does not answer before ``deadline`` `LitestreamTimeout`,
    a CA bundle that cannot be loaded `TLSSetupError`. With no region set, a bucket the
    store says lives in another region is asked again there, once; refused again for its
    region, `ListingUnavailable` (litestream lists it then).
    """
    objects: list[StoredObject] = []
    token: str | None = None
    while True:
        wanted = PAGE_KEYS if limit is None else min(PAGE_KEYS, limit - len(objects))
        query = [("list-type", "2"), ("max-keys", str(wanted)), ("prefix", prefix)]
        if after:
            query.append(("start-after", after))
        if token:
            query.append(("continuation-token", token))
        replica, body = _page(replica, credentials, query, deadline, env=env, failure=failure)
        page, token = _parse_page(body, failure)
        objects.extend(page)
        if token is None or (limit is not None and len(objects) >= limit):
            return objects


def in_region(replica: S3Replica, region: str) -> S3Replica:
    """``replica`` signed for ``region``; without a custom endpoint, at that region's AWS host.

    >>> in_region(S3Replica("bkt", "a.db"), "eu-west-1").address()
    ('s3.eu-west-1.amazonaws.com', 443)
    >>> in_region(S3Replica("bkt", "a.db", endpoint="http://127.0.0.1:9000"), "eu-west-1").address()
    ('127.0.0.1', 9000)
    """
    return dataclasses.replace(replica, region=region)


def signed_headers(
    credentials: Credentials,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    *,
    region: str,
    now: datetime,
    payload_sha256: str = _EMPTY_SHA256,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a SigV4-signed request: ``Host``, date, payload hash and ``Authorization``.

    ``payload_sha256`` is the hex SHA-256 of the body (the default: no body); ``extra`` headers
    (``x-amz-...``, such as an SSE-C key's) are sent and signed too.
    """
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {name.lower(): value for name, value in (extra or {}).items()}
    headers |= {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": stamp}
    if credentials.session_token:
        headers["x-amz-security-token"] = credentials.session_token
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            _canonical_query(query),
            *(f"{name}:{headers[name].strip()}" for name in names),
            "",
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = f"AWS4{credentials.secret}".encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.key}/{scope},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    sent = {("Host" if name == "host" else name): value for name, value in headers.items()}
    sent["Authorization"] = authorization
    return sent


def _canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """The query as SigV4 signs it: each name and value percent-encoded, sorted by name.

    >>> _canonical_query([("prefix", "a b/"), ("list-type", "2")])
    'list-type=2&prefix=a%20b%2F'
    """
    encoded = sorted((quote(name, safe="-_.~"), quote(value, safe="-_.~")) for name, value in query)
    return "&".join(f"{name}={value}" for name, value in encoded)


def _target(replica: S3Replica) -> tuple[str, str, int, str, bool]:
    """Scheme host, Host header, port, request path and TLS of the bucket's listing URL.

    >>> _target(S3Replica("bkt", "a.db", endpoint="http://127.0.0.1:9000"))
    ('127.0.0.1', '127.0.0.1:9000', 9000, '/bkt', False)
    >>> _target(S3Replica("bkt", "a.db", region="eu-west-1"))
    ('bkt.s3.eu-west-1.amazonaws.com', 'bkt.s3.eu-west-1.amazonaws.com', 443, '/', True)
    """
    tls = not replica.endpoint or urlsplit(replica.endpoint).scheme == "https"
    host, port = replica.address()
    if not replica.path_style:
        host = f"{replica.bucket}.{host}"
    header = host if port == (443 if tls else 80) else f"{host}:{port}"
    return host, header, port, f"/{replica.bucket}" if replica.path_style else "/", tls


@dataclass(frozen=True)
class _Answer:
    """The store's answer to one request signed for ``signed``: status, the bucket's region if named, the body."""

    signed: str
    status: int
    reason: str
    region: str | None
    body: bytes

    @property
    def code(self) -> str:
        return _error_of(self.body)[0]

    @property
    def wrong_region(self) -> bool:
        """Whether the store refused because the request went to (or was signed for) another region.

        >>> _Answer("us-east-1", 400, "Bad Request", "eu-west-1", b"").wrong_region
        True
        >>> _Answer("us-east-1", 400, "Bad Request", None, b"<Error><Code>InvalidArgument</Code></Error>").wrong_region
        False
        """
        named_other = self.region is not None and self.region != self.signed
        return self.status in (301, 307, 400) and (named_other or self.code in _REGION_CODES)


def _page(
    replica: S3Replica,
    credentials: Credentials,
    query: list[tuple[str, str]],
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
) -> tuple[S3Replica, bytes]:
    """One page of the listing, and the replica it came from (in the bucket's own region if the store named it)."""
    answer = _get(replica, credentials, query, deadline, env=env, failure=failure)
    if answer.status != 200 and replica.region is None and answer.wrong_region:
        if answer.region:
            replica = in_region(replica, answer.region)
            answer = _get(replica, credentials, query, deadline, env=env, failure=failure)
        if answer.status != 200 and answer.wrong_region:
            named = f" (the store names {answer.region})" if answer.region else ""
            raise ListingUnavailable(
                f"the store refused to list bucket {replica.bucket} for its region: {answer.code or answer.status} "
                f"(HTTP {answer.status}){named}; set REPLICA_REGION (or ?region= in REPLICA_URL) to the bucket's "
                "region so pylts can list it, until then litestream lists it"
            )
    if answer.status != 200:
        message = _error_of(answer.body)[1]
        text = f"{answer.code or answer.status}: {message or answer.reason} (HTTP {answer.status})"
        # the store may quote them
        raise error_from_text(text, failure, "listing the replica failed", argv=[], secrets=credentials.secrets)
    return replica, answer.body


def _get(
    replica: S3Replica,
    credentials: Credentials,
    query: list[tuple[str, str]],
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
) -> _Answer:
    path = _target(replica)[3]
    region = replica.region or DEFAULT_REGION
    status, reason, headers, body = _exchange(
        replica, credentials, "GET", path, query, deadline, env=env, failure=failure, action="listing the replica"
    )
    named = headers.get("x-amz-bucket-region") or _region_of(body)
    return _Answer(region, status, reason, named, body)


def _exchange(
    replica: S3Replica,
    credentials: Credentials,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
    action: str,
    body: bytes = b"",
    extra: Mapping[str, str] | None = None,
) -> tuple[int, str, dict[str, str], bytes]:
    """One signed request: status, reason, headers (names in lower case) and body of the store's answer."""
    host, header, port, _, tls = _target(replica)
    region = replica.region or DEFAULT_REGION
    digest = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    now = datetime.now(timezone.utc)
    headers = signed_headers(
        credentials, method, header, path, query, region=region, now=now, payload_sha256=digest, extra=extra
    )
    if body:
        headers["Content-Length"] = str(len(body))
    seconds = max(deadline.remaining(), 0.001)
    url = quote(path, safe="/-_.~") + (f"?{_canonical_query(query)}" if query else "")
    connection: http.client.HTTPConnection | None = None
    try:
        if tls:
            context = _tls_context(replica, env)
            connection = http.client.HTTPSConnection(host, port, timeout=seconds, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=seconds)
        connection.request(method, url, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    except TimeoutError:
        raise LitestreamTimeout(f"{action} at {host}:{port} did not finish within {deadline.seconds:g} s") from None
    except ssl.SSLError as exc:
        raise failure(f"{action} failed: TLS with {host}:{port} failed ({exc.reason})") from None
    except http.client.HTTPException as exc:  # before OSError: RemoteDisconnected is both
        raise failure(
            f"{action} failed: {host}:{port} broke off its answer ({type(exc).__name__}); "
            "check that the endpoint is an S3 store and that nothing between cuts connections"
        ) from None
    except OSError as exc:
        raise EndpointUnreachable(
            f"cannot connect to the S3 endpoint {host}:{port} ({exc.strerror or exc}); "
            "check REPLICA_ENDPOINT (or ?endpoint= in REPLICA_URL) and that the store is running"
        ) from None
    finally:
        if connection is not None:
            connection.close()
    return response.status, response.reason, {name.lower(): value for name, value in response.getheaders()}, answer


@dataclass(frozen=True)
class ObjectAnswer:
    """The store's answer to a request for one object: status, headers (lower-case names), body, error code."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        """The S3 error code of a refusal (``AccessDenied``...), else the empty string."""
        return _error_of(self.body)[0]

    @property
    def date(self) -> datetime | None:
        """The store's clock when it answered (its ``Date`` header), or None without one.

        >>> ObjectAnswer(200, {"date": "Sun, 06 Dec 2026 02:05:58 GMT"}, b"").date.isoformat()
        '2026-12-06T02:05:58+00:00'
        """
        text = self.headers.get("date")
        if not text:
            return None
        try:
            return email.utils.parsedate_to_datetime(text).astimezone(timezone.utc)
        except (TypeError, ValueError):
            return None


def object_request(
    replica: S3Replica,
    credentials: Credentials,
    method: str,
    key: str,
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
    body: bytes = b"",
    extra: Mapping[str, str] | None = None,
) -> ObjectAnswer:
    """A signed ``GET``, ``HEAD``, ``PUT`` or ``DELETE`` of the object ``key`` of ``replica``'s bucket.

    The store's refusals come back as answers (their ``status`` and ``code``), for the caller
    to judge; a store that takes no connection raises `EndpointUnreachable`, one that does not
    answer before ``deadline`` `LitestreamTimeout`, a broken answer ``failure``. ``extra``:
    more headers, signed (`sse_customer_headers` for a replica written with an SSE-C key).
    """
    base = _target(replica)[3]
    path = f"{base.rstrip('/')}/{key}"
    action = f"{method} {key}"
    status, _, headers, answer = _exchange(
        replica,
        credentials,
        method,
        path,
        [],
        deadline,
        env=env,
        failure=failure,
        action=action,
        body=body,
        extra=extra,
    )
    return ObjectAnswer(status, headers, answer)


def sse_customer_headers(replica: S3Replica, env: Mapping[str, str]) -> dict[str, str]:
    """The headers that read an object of ``replica`` written with an SSE-C key (the key from ``env``); else none.

    >>> import base64
    >>> key = base64.b64encode(bytes(32)).decode()
    >>> from pylts.replica import parse_replica_url
    >>> replica = parse_replica_url("s3://bucket/app.db")
    >>> sse_customer_headers(replica, {SSE_CUSTOMER_KEY_VARIABLE: key})
    {}
    >>> encrypted = dataclasses.replace(replica, sse_customer_key=True)
    >>> [name.rsplit("-", 1)[1] for name in sse_customer_headers(encrypted, {SSE_CUSTOMER_KEY_VARIABLE: key})]
    ['algorithm', 'key', 'md5']
    """
    key = env.get(SSE_CUSTOMER_KEY_VARIABLE) if replica.sse_customer_key else None
    if not key:
        return {}
    digest = base64.b64encode(
        hashlib.md5(base64.b64decode(key)).digest()
    ).decode()  # S3's digest of the key, not a protection
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": key,
        "x-amz-server-side-encryption-customer-key-md5": digest,
    }


def delete_object(
    replica: S3Replica,
    credentials: Credentials,
    key: str,
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
) -> None:
    """Delete ``key`` from ``replica``'s bucket: one signed ``DeleteObject``; a key already gone is no error.

    A refusal the store explains raises its typed error (`error_from_text`), anything else ``failure``.
    """
    answer = object_request(replica, credentials, "DELETE", key, deadline, env=env, failure=failure)
    if answer.ok or answer.status == 404:
        return
    code, message = _error_of(answer.body)
    text = f"{code or answer.status}: {message or 'no message'} (HTTP {answer.status})"
    raise error_from_text(text, failure, f"deleting {key} failed", argv=[], secrets=credentials.secrets)


def _tls_context(replica: S3Replica, env: Mapping[str, str]) -> ssl.SSLContext:
    """The CA bundle litestream would use (``AWS_CA_BUNDLE``, ``SSL_CERT_FILE``); none checked with ``skipVerify``.

    A bundle that cannot be loaded raises `TLSSetupError`.
    """
    if dict(replica.options).get("skipVerify", "").lower() in ("true", "1", "yes"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    name = next((name for name in ("AWS_CA_BUNDLE", "SSL_CERT_FILE") if env.get(name)), None)
    try:
        return ssl.create_default_context(cafile=env[name] if name else None)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise TLSSetupError(
            f"listing the replica failed: cannot load the CA bundle {name}={env[name] if name else ''} ({reason}); "
            + HINTS[TLSSetupError]
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_page(body: bytes, failure: type[LitestreamError]) -> tuple[list[StoredObject], str | None]:
    """The objects of one ``ListBucketResult`` page and its continuation token (None on the last page).

    >>> page = (b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>'
    ...         b'<Contents><Key>a.db/0000/0000000000000001-0000000000000001.ltx</Key>'
    ...         b'<LastModified>2026-12-04T16:53:17.000Z</LastModified><Size>591</Size></Contents></ListBucketResult>')
    >>> objects, token = _parse_page(page, LitestreamError)
    >>> objects[0].size, objects[0].last_modified.year, token
    (591, 2026, None)
    """
    try:
        root = ET.fromstring(body)
        objects = []
        token = None
        truncated = False
        for child in root:
            name = _local(child.tag)
            if name == "Contents":
                fields = {_local(item.tag): item.text or "" for item in child}
                moment = datetime.fromisoformat(fields["LastModified"].replace("Z", "+00:00"))
                objects.append(StoredObject(fields["Key"], int(fields["Size"]), moment))
            elif name == "IsTruncated":
                truncated = (child.text or "").strip() == "true"
            elif name == "NextContinuationToken":
                token = child.text
    except (ET.ParseError, KeyError, ValueError) as exc:
        shown = body[:120].decode("utf-8", "replace")
        raise failure(f"cannot read the store's listing ({exc}): it begins {shown!r}") from None
    return objects, token if truncated else None


def _region_of(body: bytes) -> str | None:
    """The ``Region`` an S3 error document names (AWS's answer to a request for the wrong region), else None.

    >>> _region_of(b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region></Error>")
    'eu-west-1'
    >>> _region_of(b"not XML") is None
    True
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return next(((item.text or "").strip() or None for item in root if _local(item.tag) == "Region"), None)


def _error_of(body: bytes) -> tuple[str, str]:
    """The ``Code`` and ``Message`` of an S3 error document (empty when the body is not one).

    >>> _error_of(b"<Error><Code>NoSuchBucket</Code><Message>The bucket does not exist</Message></Error>")
    ('NoSuchBucket', 'The bucket does not exist')
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", ""
    fields = {_local(item.tag): (item.text or "").strip() for item in root}
    return fields.get("Code", ""), fields.get("Message", "")
