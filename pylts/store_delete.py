"""Deleting objects from the store: one signed S3 ``DeleteObject`` per key, with nothing but the standard library.

pylts deletes only what it wrote itself outside litestream's care: the snapshots of the
second destination past the number kept (`pylts.secondary`). A key that is already gone is
not an error (S3 answers 204 either way). Requests are signed as `pylts.store` signs listings.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import quote

from .errors import EndpointUnreachable, LitestreamError, LitestreamTimeout
from .output import error_from_text
from .replica import S3Replica
from .store import DEFAULT_REGION, Credentials, _target, _tls_context, signed_headers
from .timing import Deadline

__all__ = ["delete_object", "object_path"]


def object_path(replica: S3Replica, key: str) -> str:
    """The request path of ``key`` in ``replica``'s bucket, encoded as SigV4 signs it.

    >>> object_path(S3Replica("bkt", "a.db", endpoint="http://127.0.0.1:9000"), "a.db/x y.ltx")
    '/bkt/a.db/x%20y.ltx'
    >>> object_path(S3Replica("bkt", "a.db"), "a.db/1.ltx")
    '/a.db/1.ltx'
    """
    _, _, _, base, _ = _target(replica)
    return quote(f"{base.rstrip('/')}/{key}", safe="/-_.~")


def delete_object(
    replica: S3Replica,
    credentials: Credentials,
    key: str,
    deadline: Deadline,
    *,
    env: Mapping[str, str],
    failure: type[LitestreamError],
) -> None:
    """Delete ``key`` from ``replica``'s bucket; a refusal the store explains raises its typed error, else failure."""
    host, header, port, _, tls = _target(replica)
    path = object_path(replica, key)
    region = replica.region or DEFAULT_REGION
    headers = signed_headers(credentials, "DELETE", header, path, [], region=region, now=datetime.now(timezone.utc))
    seconds = max(deadline.remaining(), 0.001)
    connection: http.client.HTTPConnection | None = None
    try:
        if tls:
            connection = http.client.HTTPSConnection(host, port, timeout=seconds, context=_tls_context(replica, env))
        else:
            connection = http.client.HTTPConnection(host, port, timeout=seconds)
        connection.request("DELETE", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
    except TimeoutError:
        raise LitestreamTimeout(
            f"deleting {key} at {host}:{port} did not finish within {deadline.seconds:g} s"
        ) from None
    except ssl.SSLError as exc:
        raise failure(f"deleting {key} failed: TLS with {host}:{port} failed ({exc.reason})") from None
    except http.client.HTTPException as exc:
        raise failure(f"deleting {key} failed: {host}:{port} broke off its answer ({type(exc).__name__})") from None
    except OSError as exc:
        raise EndpointUnreachable(
            f"cannot connect to the S3 endpoint {host}:{port} ({exc.strerror or exc}); check that the store is running"
        ) from None
    finally:
        if connection is not None:
            connection.close()
    if response.status not in (200, 204, 404):
        text = f"HTTP {response.status} {response.reason}: {body[:300].decode('utf-8', 'replace')}"
        hidden = (credentials.key, credentials.secret, credentials.session_token or "")
        raise error_from_text(text, failure, f"deleting {key} failed", argv=[], secrets=hidden)
