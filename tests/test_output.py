"""Parsing litestream's output, on lines captured from the real 0.5.17 and 0.3.13 binaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylts.errors import BucketNotFound, CredentialsRejected, NoBackupFound, RestoreError, error_class
from pylts.failures import error_for
from pylts.output import RunResult, last_error, parse_line

DATA = Path(__file__).parent / "data"


def capture(name: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a captured run."""
    text = (DATA / f"{name}.txt").read_text()
    head, rest = text.split("# stdout\n", 1)
    stdout, stderr = rest.split("# stderr\n", 1)
    return int(head.removeprefix("# exit ").strip()), stdout, stderr


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("0.5-restore-no-backup", NoBackupFound),
        ("0.3-restore-no-backup", NoBackupFound),
        ("0.5-restore-bad-credentials", CredentialsRejected),
        ("0.3-restore-bad-credentials", CredentialsRejected),
        ("0.5-replicate-no-bucket", BucketNotFound),
        ("0.3-replicate-no-bucket", BucketNotFound),
        ("0.5-replicate-bad-credentials", CredentialsRejected),
        ("0.3-replicate-bad-credentials", CredentialsRejected),
        ("0.5-restore-output-exists", RestoreError),
        ("0.3-restore-output-exists", RestoreError),
    ],
)
def test_captured_failures_map_to_their_error(name: str, cls: type) -> None:
    code, stdout, stderr = capture(name)
    error = error_for(RunResult(["litestream"], code, stdout, stderr, 0.0), RestoreError, "restore")
    assert type(error) is cls
    said = last_error(f"{stderr}\n{stdout}")
    assert said and said in str(error)
    # the tail of both streams travels with the error, for a closer look
    assert all(stream.strip()[-200:] in error.output for stream in (stdout, stderr) if stream.strip())


def test_output_exists_keeps_litestreams_words() -> None:
    code, stdout, stderr = capture("0.5-restore-output-exists")
    assert "output path already exists" in str(
        error_for(RunResult([], code, stdout, stderr, 0.0), RestoreError, "restore")
    )


@pytest.mark.parametrize("line", ["0.5", "0.3"])
def test_every_replicate_line_parses(line: str) -> None:
    _, stdout, _ = capture(f"{line}-replicate")
    parsed = [parse_line(raw) for raw in stdout.splitlines()]
    assert parsed and all(p is not None for p in parsed)
    assert all(p.level == "INFO" for p in parsed if p)


def test_05_snapshot_line_fields() -> None:
    _, stdout, _ = capture("0.5-replicate")
    snapshot = next(p for p in map(parse_line, stdout.splitlines()) if p and p.message == "snapshot complete")
    assert snapshot.fields["db"] == "app.db" and snapshot.fields["txid"] == "0000000000000001"


def test_03_snapshot_line_names_the_database_path() -> None:
    _, stdout, _ = capture("0.3-replicate")
    snapshot = next(p for p in map(parse_line, stdout.splitlines()) if p and p.message == "snapshot written")
    assert snapshot.fields["db"].endswith("/app.db") and "/" in snapshot.fields["position"]


def test_repeated_keys_keep_the_record_level() -> None:
    line = parse_line('time=t level=INFO msg="compaction complete" system=store db=app.db level=1 size=566')
    assert line is not None and (line.level, line.fields["db"]) == ("INFO", "app.db")


def test_quoted_values_with_escapes() -> None:
    line = parse_line('time=t level=ERROR msg="monitor error" error="NoSuchBucket: gone\\n\\tstatus \\"404\\""')
    assert line is not None and line.error.startswith("NoSuchBucket: gone") and '"404"' in line.error


def test_last_error_prefers_the_final_error_line() -> None:
    _, stdout, _ = capture("0.3-replicate-bad-credentials")
    assert last_error(stdout).startswith("InvalidAccessKeyId")


def test_lines_that_are_not_records() -> None:
    assert parse_line("") is None
    assert parse_line("Usage: litestream restore [arguments] DB_PATH") is None


def test_unknown_failures_stay_generic() -> None:
    assert error_class("cannot restore, output path already exists") is None
    error = error_for(RunResult(["litestream"], 2, "", "", 0.0), RestoreError, "restore")
    assert type(error) is RestoreError and "exited with 2 and printed no error" in str(error)


def test_every_default_error_class_can_carry_the_run() -> None:
    """An unnamed failure becomes the caller's default class, with argv, exit code and text."""
    from pylts.errors import BackupNotConfirmed, ReplicationError

    for default in (RestoreError, ReplicationError, BackupNotConfirmed):
        error = error_for(RunResult(["litestream", "ltx"], 1, "", "Error: something odd", 0.0), default, "listing")
        assert type(error) is default and error.argv == ["litestream", "ltx"] and error.returncode == 1


@pytest.mark.parametrize("secret", ["s", "Access", "AKIASECRET42"])
def test_an_error_is_read_from_what_litestream_printed_and_shows_its_secrets_masked(secret: str) -> None:
    """The cause is read before masking: with the secret ``s``, ``AccessDenied`` would read ``Acce******Denied``."""
    stderr = "Error: cannot fetch generations: AccessDenied: key AKIASECRET42 may not read this bucket"
    result = RunResult(["litestream", "restore"], 1, "", stderr, 0.1, secrets=(secret,))
    error = error_for(result, RestoreError, "restore")
    assert type(error) is CredentialsRejected
    assert secret not in error.output
    assert secret not in str(error).partition(": ")[2].partition("; ")[0], "litestream's words, masked (not pylts')"
    assert "AccessDenied" not in repr(result), "a run's repr shows no output (it is kept as printed)"
