"""pylts' own listing of a replica (`pylts.store`, `pylts.layout`): signed like botocore, answered by real servers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import S3Server, derive, free_port, refused_credentials, require, write_rows

from pylts import BucketNotFound, ConfigS3, CredentialsRejected, EndpointUnreachable
from pylts.deadline import Deadline
from pylts.errors import ListingUnavailable, LitestreamTimeout, RestoreError, TLSSetupError
from pylts.layout import Layout
from pylts.replica import S3Replica
from pylts.runner import run
from pylts.store import Credentials, StoredObject, _parse_page, _target, in_region, list_objects, signed_headers

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
    assert "AKID" not in repr(Credentials("AKID", "se/cr+et", "tok")), "nor the key, masked everywhere else too"


@pytest.mark.integration
def test_listing_sees_what_litestream_wrote(server_cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """One listing of the store names the layout each line writes; on 0.5 it holds what `litestream ltx` lists."""
    cfg = server_cfg
    write_rows(cfg.dbpath, 50)
    assert cfg.timed_replicate(30, delete=False) is True
    write_rows(cfg.dbpath, 5, start=50)
    assert cfg.timed_replicate(30, delete=False) is True
    ctx = cfg.plan()
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
    objects = server_cfg.plan().replica_objects(Deadline(20))
    assert objects.objects == () and objects.layouts == frozenset()


@pytest.mark.integration
def test_listing_names_the_cause_and_never_the_secret(
    s3_server: S3Server, server_cfg: ConfigS3, tmp_path: Path
) -> None:
    with refused_credentials(s3_server, server_cfg) as refused:
        ctx = refused.plan()
        with pytest.raises(CredentialsRejected) as rejected:
            ctx.replica_objects(Deadline(20))
        assert refused.token is not None
        assert refused.token.get_secret_value() not in f"{rejected.value} {rejected.value.output}"
    gone = derive(server_cfg, s3=server_cfg.s3.replace(server_cfg.replica.bucket, "no-such-bucket-here"))
    with pytest.raises(BucketNotFound, match="create the bucket"):
        gone.plan().replica_objects(Deadline(20))


@pytest.mark.integration
def test_listing_without_a_store(cfg: ConfigS3) -> None:
    closed = derive(cfg, endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(EndpointUnreachable, match="REPLICA_ENDPOINT"):
        closed.plan().replica_objects(Deadline(5))


def test_listing_needs_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ConfigS3(_env_file=None, s3="s3://bkt/app.db", use_aws_credential_chain=True)
    with pytest.raises(ListingUnavailable, match="LITESTREAM_ACCESS_KEY_ID"):
        cfg.plan().replica_objects(Deadline(5))


def test_an_unreadable_listing_is_a_typed_error() -> None:
    """A body that is not an S3 listing is raised as the caller's error class, never a bare parse error."""
    with pytest.raises(RestoreError, match="cannot read the store's listing"):
        _parse_page(b"<html>not S3</html", RestoreError)


SECRET = "se/cr+et-never-shown"
TOKEN = "session-token-never-shown"
LISTING = (
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>'
    b"<Contents><Key>app.db/0000/0000000000000001-0000000000000001.ltx</Key>"
    b"<LastModified>2026-12-04T16:53:17.000Z</LastModified><Size>591</Size></Contents></ListBucketResult>"
)
Answer = tuple[int, dict[str, str], bytes, bool]


class _Store(BaseHTTPRequestHandler):
    """A store on 127.0.0.1 that answers each GET with the next of ``answers`` (status, headers, body, whole)."""

    answers: list[Callable[[str], Answer]]
    seen: list[str]
    port: int

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        type(self).seen.append(authorization)
        status, headers, body, whole = type(self).answers.pop(0)(authorization)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body if whole else body[: len(body) // 2])  # not whole: the connection breaks mid-answer
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def tiny_store(*answers: Callable[[str], Answer]) -> Iterator[type[_Store]]:
    """An HTTP server on 127.0.0.1 in a thread, stopped on leaving."""

    class Store(_Store):
        pass

    Store.answers, Store.seen = list(answers), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    Store.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Store
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _listing_of(store: type[_Store]) -> list[StoredObject]:
    replica = S3Replica("bkt", "app.db", endpoint=f"http://127.0.0.1:{store.port}")  # path style
    credentials = Credentials("AKID", SECRET, TOKEN)
    return list_objects(replica, credentials, "app.db/", Deadline(5), env={}, failure=RestoreError)


def _wrong_region(status: int) -> Callable[[str], Answer]:
    """What AWS answers a request signed for the wrong region: 400 with <Region>, or 301 with the header."""
    if status == 400:
        body = b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region></Error>"
        return lambda _: (400, {}, body, True)
    body = b"<Error><Code>PermanentRedirect</Code><Message>use the right endpoint</Message></Error>"
    return lambda _: (301, {"x-amz-bucket-region": "eu-west-1"}, body, True)


def _listing_for_eu_west_1(authorization: str) -> Answer:
    if "/eu-west-1/s3/aws4_request" in authorization:
        return 200, {}, LISTING, True
    return 403, {}, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", True


@pytest.mark.parametrize("status", [400, 301])
def test_a_bucket_in_another_region_is_listed_there(status: int) -> None:
    """Signed for us-east-1 (no region set), refused with the bucket's region named: signed again for it, once."""
    with tiny_store(_wrong_region(status), _listing_for_eu_west_1) as store:
        objects = _listing_of(store)
    assert [o.key for o in objects] == ["app.db/0000/0000000000000001-0000000000000001.ltx"]
    assert ["/us-east-1/" in seen for seen in store.seen] == [True, False]


def test_a_region_refused_twice_leaves_the_listing_to_litestream() -> None:
    """Still refused for the region after the retry: ListingUnavailable, so callers list with litestream instead."""
    with (
        tiny_store(_wrong_region(400), _wrong_region(400)) as store,
        pytest.raises(ListingUnavailable, match="REPLICA_REGION") as refused,
    ):
        _listing_of(store)
    assert len(store.seen) == 2
    assert SECRET not in str(refused.value) and TOKEN not in str(refused.value)


def test_the_bucket_region_picks_the_aws_host() -> None:
    """Without an endpoint the retry goes to the region's own host: bkt.s3.eu-west-1.amazonaws.com."""
    replica = S3Replica("bkt", "app.db")
    assert _target(replica)[0] == "bkt.s3.amazonaws.com"
    assert _target(in_region(replica, "eu-west-1"))[:2] == ("bkt.s3.eu-west-1.amazonaws.com",) * 2
    custom = S3Replica("bkt", "app.db", endpoint="http://127.0.0.1:9000")
    assert _target(in_region(custom, "eu-west-1")) == _target(custom), "a custom endpoint keeps its host"


def test_an_answer_broken_off_is_the_callers_error() -> None:
    """A store that closes the connection mid-answer (IncompleteRead) or before it (RemoteDisconnected)."""
    half: Answer = (200, {}, LISTING, False)
    with tiny_store(lambda _: half) as store, pytest.raises(RestoreError, match="broke off") as broken:
        _listing_of(store)
    assert SECRET not in f"{broken.value} {broken.value.output}"

    def read_then_close(server: socket.socket) -> None:
        with server.accept()[0] as connection:
            connection.recv(65536)  # the request, read: the close is a clean end, not a reset

    with socket.create_server(("127.0.0.1", 0)) as silent:  # reads the request, closes without a word
        thread = threading.Thread(target=read_then_close, args=(silent,))
        thread.start()
        replica = S3Replica("bkt", "app.db", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(RestoreError, match="broke off") as closed:
            list_objects(replica, Credentials("AKID", SECRET), "app.db/", Deadline(5), env={}, failure=RestoreError)
        thread.join()
    assert SECRET not in str(closed.value)


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_a_ca_bundle_that_cannot_be_loaded_is_a_tls_setup_error(content: str | None, tmp_path: Path) -> None:
    """A missing or unreadable AWS_CA_BUNDLE says so and how to fix it; nothing is sent."""
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    replica = S3Replica("bkt", "app.db", endpoint="https://127.0.0.1:1")
    with pytest.raises(TLSSetupError, match="AWS_CA_BUNDLE") as refused:
        list_objects(
            replica,
            Credentials("AKID", SECRET, TOKEN),
            "app.db/",
            Deadline(5),
            env={"AWS_CA_BUNDLE": str(bundle)},
            failure=RestoreError,
        )
    assert SECRET not in str(refused.value) and TOKEN not in str(refused.value)


def test_a_store_that_does_not_answer_in_time_is_a_timeout() -> None:
    """Timeouts keep their own type (a store that takes the connection and never answers)."""
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts (backlog), never answers
        replica = S3Replica("bkt", "app.db", endpoint=f"http://127.0.0.1:{mute.getsockname()[1]}")
        with pytest.raises(LitestreamTimeout):
            list_objects(replica, Credentials("AKID", SECRET), "app.db/", Deadline(0.5), env={}, failure=RestoreError)
