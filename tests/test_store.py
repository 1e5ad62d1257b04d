"""pylts' own listing of a replica (`pylts.store`, `pylts.layout`): signed like botocore, answered by real servers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import S3Server, derive, free_port, refused_credentials, require, write_rows

from pylts import BucketNotFound, ConfigS3, CredentialsRejected, EndpointUnreachable
from pylts.errors import ListingUnavailable, RestoreError
from pylts.layout import Layout
from pylts.runner import Deadline, run
from pylts.store import Credentials, _parse_page, signed_headers

NOW = datetime(2026, 12, 4, 16, 53, 17, tzinfo=timezone.utc)


@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_signature_matches_botocore(token: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another implementation, signing the same request, gets the same signature (prefix with a space and a slash)."""
    require("botocore")
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = "http://127.0.0.1:9000/bkt?list-type=2&max-keys=1000&prefix=my%20app%2Fa.db%2F"
    request = AWSRequest(method="GET", url=url)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW)
    S3SigV4Auth(BotoCredentials("AKID", "se/cr+et", token), "s3", "us-east-1").add_auth(request)
    ours = signed_headers(
        Credentials("AKID", "se/cr+et", token),
        "GET",
        "127.0.0.1:9000",
        "/bkt",
        [("list-type", "2"), ("max-keys", "1000"), ("prefix", "my app/a.db/")],
        region="us-east-1",
        now=NOW,
    )
    assert ours["Authorization"].replace(",", ", ") == request.headers["Authorization"]


def test_credentials_stay_out_of_the_repr() -> None:
    assert "se/cr+et" not in repr(Credentials("AKID", "se/cr+et", "tok")), "the secret is never shown"
    assert "tok" not in repr(Credentials("AKID", "se/cr+et", "tok"))


@pytest.mark.integration
def test_listing_sees_what_litestream_wrote(server_cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """One listing of the store names the layout each line writes; on 0.5 it holds what `litestream ltx` lists."""
    cfg = server_cfg
    write_rows(cfg.dbpath, 50)
    assert cfg.timed_replicate(30, delete=False) is True
    write_rows(cfg.dbpath, 5, start=50)
    assert cfg.timed_replicate(30, delete=False) is True
    ctx = cfg._context()
    monkeypatch.setattr("pylts.store.PAGE_KEYS", 1)  # one object a page, joined by continuation tokens
    objects = ctx.replica_objects(Deadline(20))
    if ctx.line.has_txids:
        assert objects.layouts == {Layout.V05}
        argv = [str(ctx.litestream.path), "ltx", "-json", "-level", "all", ctx.replica.url()]
        listed = json.loads(run(argv, env=ctx.env, timeout=20).stdout)
        assert len(objects.objects) >= 2, "more objects than one page holds"
        assert sorted((f.level, f.min_txid, f.max_txid, f.size) for f in objects.ltx_files) == sorted(
            (f["level"], f["min_txid"], f["max_txid"], f["size"]) for f in listed
        )
    else:
        assert objects.layouts == {Layout.V03}
        assert objects.ltx_files == []
    assert objects.size > 0


@pytest.mark.integration
def test_listing_keeps_to_its_replica(server_cfg: ConfigS3) -> None:
    """A replica at ``app.db`` does not see one at ``app.db-old`` beside it, nor an empty one its own."""
    sibling = derive(server_cfg, s3=server_cfg.s3.replace("app.db", "app.db-old"), db="old.db")
    write_rows(sibling.dbpath, 3)
    assert sibling.timed_replicate(30, delete=False) is True
    objects = server_cfg._context().replica_objects(Deadline(20))
    assert objects.objects == () and objects.layouts == frozenset()


@pytest.mark.integration
def test_listing_names_the_cause_and_never_the_secret(
    s3_server: S3Server, server_cfg: ConfigS3, tmp_path: Path
) -> None:
    with refused_credentials(s3_server, server_cfg) as refused:
        ctx = refused._context()
        with pytest.raises(CredentialsRejected) as rejected:
            ctx.replica_objects(Deadline(20))
        assert refused.token is not None
        assert refused.token.get_secret_value() not in f"{rejected.value} {rejected.value.output}"
    gone = derive(server_cfg, s3=server_cfg.s3.replace(server_cfg.replica.bucket, "no-such-bucket-here"))
    with pytest.raises(BucketNotFound, match="create the bucket"):
        gone._context().replica_objects(Deadline(20))


@pytest.mark.integration
def test_listing_without_a_store(cfg: ConfigS3) -> None:
    closed = derive(cfg, endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EndpointUnreachable, match="REPLICA_ENDPOINT"):
        closed._context().replica_objects(Deadline(5))


def test_listing_needs_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ConfigS3(_env_file=None, s3="s3://bkt/app.db", use_aws_credential_chain=True)
    with pytest.raises(ListingUnavailable, match="LITESTREAM_ACCESS_KEY_ID"):
        cfg._context().replica_objects(Deadline(5))


def test_an_unreadable_listing_is_a_typed_error() -> None:
    """A body that is not an S3 listing is raised as the caller's error class, never a bare parse error."""
    with pytest.raises(RestoreError, match="cannot read the store's listing"):
        _parse_page(b"<html>not S3</html", RestoreError)
