"""pytest fixtures for testing an app that uses pylts: a local S3, a fresh bucket and a ready `ConfigS3` per test.

pytest loads this plugin by itself once pylts is installed (entry point ``pytest11``); the
local S3 needs the ``testing`` extra (``pip install "pylts[testing]>=0.1"``). Every name starts
with ``pylts_``, so the fixtures never hide an app's own.

- ``pylts_s3`` (session): a `pylts.testing.LocalS3`, moto's S3 on 127.0.0.1.
- ``pylts_bucket``: the server emptied, then one bucket named after the test.
- ``pylts_config``: a `ConfigS3` for ``app.db`` in the test's ``tmp_path``, backed up to that bucket.

>>> bucket_for("test_restore[0.5-big]")
'test-restore-0-5-big'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .config import ConfigS3
    from .testing import LocalS3


def bucket_for(test_name: str) -> str:
    """A valid bucket name made from a test's name (3 to 63 lowercase letters, digits and hyphens)."""
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower())[:63].strip("-")
    return name if len(name) >= 3 else f"pylts-{name or 'test'}"


@pytest.fixture(scope="session")
def pylts_s3() -> Iterator[LocalS3]:
    """moto's S3 on 127.0.0.1 for the whole session; stopped when the session ends."""
    from .errors import MissingExtra
    from .testing import LocalS3

    try:
        server = LocalS3()
    except MissingExtra as exc:
        pytest.fail(str(exc), pytrace=False)  # the pip line, not a traceback into pylts
    with server:
        yield server


@pytest.fixture
def pylts_bucket(pylts_s3: LocalS3, request: pytest.FixtureRequest) -> str:
    """An empty server with one bucket, named after the test."""
    pylts_s3.reset()
    name = bucket_for(request.node.name)
    pylts_s3.create_bucket(name)
    return name


@pytest.fixture
def pylts_config(pylts_s3: LocalS3, pylts_bucket: str, tmp_path: Path) -> ConfigS3:
    """Settings for ``tmp_path/pylts/app.db``, replicated to ``s3://BUCKET/app.db`` on the local S3."""
    return pylts_s3.config(pylts_bucket, "app.db", db="app.db", folder=tmp_path / "pylts")
