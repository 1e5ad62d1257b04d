"""The pytest plugin: its fixtures as an app's test suite meets them, and as pylts' own tests use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import read_rows, write_rows

from pylts import ConfigS3, InvalidArgument
from pylts.pytest_plugin import bucket_for
from pylts.replica import bucket_problem
from pylts.testing import LocalS3

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_app_backup.py"


@pytest.mark.integration
def test_an_apps_test_suite_gets_the_fixtures_without_any_setup(pytester: pytest.Pytester) -> None:
    """The example of docs/testing-your-app.md, run as an app's suite: no conftest, no import, no setup."""
    pytester.makepyfile(test_app=EXAMPLE.read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=2)


@pytest.mark.integration
def test_pylts_own_tests_can_use_the_fixtures(pylts_config: ConfigS3) -> None:
    pylts_config.folder.mkdir()
    write_rows(pylts_config.dbpath, 300)
    assert pylts_config.timed_replicate(60)
    pylts_config.restore()
    assert len(read_rows(pylts_config.dbpath)) == 300


@pytest.mark.parametrize("name", ["Bad_Name", "my backups", "ab", "-lead", "a..b"])
def test_a_bucket_name_s3_would_refuse_raises_a_clear_error(pylts_s3: LocalS3, name: str) -> None:
    pylts_s3.reset()
    with pytest.raises(InvalidArgument, match=f"bucket name '{name}'") as caught:
        pylts_s3.create_bucket(name)
    assert isinstance(caught.value, ValueError)
    assert "lowercase letters" in str(caught.value) or "3 to 63 characters" in str(caught.value)
    assert not pylts_s3._client().list_buckets()["Buckets"], "nothing was created"


@pytest.mark.parametrize(
    "test_name", ["test_x", "t", "TEST_Upper[0.5-big]", "test_" + "very_long_name_" * 10, "[...]", "test_ünïcode"]
)
def test_a_bucket_named_after_any_test_is_valid(test_name: str) -> None:
    name = bucket_for(test_name)
    assert bucket_problem(name) is None and 3 <= len(name) <= 63
