"""Replica URL rules: what is accepted, what is refused, and what the refusal says."""

from __future__ import annotations

import pytest

from pylts.replica import S3Replica, parse_replica_url


@pytest.mark.parametrize(
    ("url", "bucket", "path"),
    [
        ("s3://backups/app.db", "backups", "app.db"),
        ("s3://x/x.db", "x", "x.db"),
        ("s3://my.backups-2/deep/er/app.db", "my.backups-2", "deep/er/app.db"),
        ("  s3://backups/app.db/  ", "backups", "app.db"),
        ("s3://backups/" + "p" * 2000, "backups", "p" * 2000),  # no arbitrary length cap
    ],
)
def test_accepted_urls(url: str, bucket: str, path: str) -> None:
    replica = parse_replica_url(url)
    assert (replica.bucket, replica.path) == (bucket, path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "replica URL is empty"),
        ("backups/app.db", "must start with s3:// (got scheme none)"),
        ("gs://backups/app.db", "must start with s3:// (got scheme 'gs://')"),
        ("file:///tmp/app.db", "must start with s3://"),
        ("s3:///app.db", "has no bucket"),
        ("s3://backups", "no path inside the bucket"),
        ("s3://backups/", "no path inside the bucket"),
        ("s3://my bucket/app.db", "bucket name 'my bucket' is not valid"),
        ("s3://Backups/app.db", "bucket name 'Backups' is not valid"),
        ("s3://-backups/app.db", "is not valid"),
        ("s3://key:secret@backups/app.db", "must not carry credentials"),
        ("s3://backups/a/../b.db", "'..' segment"),
        ("s3://backups/a//b.db", "empty, '.' or '..' segment"),
        ("s3://backups/app.db?foo=1", "unknown replica URL option 'foo'"),
        ("s3://backups/app.db?endpoint=127.0.0.1:9000", "must be an http:// or https:// URL"),
        ("s3://backups/app.db?forcePathStyle=maybe", "is not a boolean"),
        ("s3://backups/app.db#frag", "fragment"),
    ],
)
def test_refused_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_replica_url(url)
    assert message in str(caught.value)


def test_endpoint_in_query_turns_on_path_style_unless_told_otherwise() -> None:
    assert parse_replica_url("s3://b/a.db?endpoint=http://127.0.0.1:9000").path_style is True
    assert parse_replica_url("s3://b/a.db?endpoint=http://127.0.0.1:9000&forcePathStyle=false").path_style is False
    assert parse_replica_url("s3://b/a.db").path_style is False


def test_rendered_url_means_the_same_when_read_again() -> None:
    original = parse_replica_url("s3://b/a.db?endpoint=https://x.r2.cloudflarestorage.com&region=auto&skipVerify=true")
    again = parse_replica_url(original.url())
    assert again.url() == original.url()
    assert again.config_entry() == original.config_entry()


def test_config_entry_carries_every_option() -> None:
    entry = parse_replica_url("s3://b/a.db?endpoint=http://h:1&region=r&skipVerify=true&partSize=5MB").config_entry()
    assert entry == {
        "type": "s3",
        "bucket": "b",
        "path": "a.db",
        "endpoint": "http://h:1",
        "region": "r",
        "force-path-style": True,
        "skip-verify": True,
        "part-size": "5MB",
    }


def test_settings_must_agree_with_the_url() -> None:
    replica = parse_replica_url("s3://b/a.db?region=eu-west-1")
    assert replica.with_overrides(None, "eu-west-1", None).region == "eu-west-1"
    with pytest.raises(ValueError, match="region is given twice"):
        replica.with_overrides(None, "us-east-1", None)


@pytest.mark.parametrize(
    ("replica", "address"),
    [
        (S3Replica("b", "a.db"), ("s3.amazonaws.com", 443)),
        (S3Replica("b", "a.db", endpoint="http://127.0.0.1:9000"), ("127.0.0.1", 9000)),
        (S3Replica("b", "a.db", endpoint="https://minio.internal"), ("minio.internal", 443)),
        (S3Replica("b", "a.db", endpoint="http://minio.internal"), ("minio.internal", 80)),
    ],
)
def test_address_is_where_litestream_connects(replica: S3Replica, address: tuple[str, int]) -> None:
    assert replica.address() == address
