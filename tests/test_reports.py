"""What litestream prints, read whole and typed: a listing is never cut, and nonsense is a PyltsError."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import pytest

from pylts import PyltsError, UnreadableOutput, runner
from pylts.lines.v05.ltx import parse_ltx_files
from pylts.reports import Snapshot, parse_restore_report

LTX = '{"level": 0, "min_txid": "%016x", "max_txid": "%016x", "size": 566, "timestamp": "2026-11-22T13:12:45Z"}'


def test_a_long_listing_is_read_whole() -> None:
    # ltx -json prints about 7 lines per file when indented; 1000 files is far past any line-count tail
    printer = (
        f"ltx = {LTX!r}\nprint('[' + ',\\n'.join(ltx % (i, i) for i in range(1, 1001)).replace(', ', ',\\n  ') + ']')"
    )
    result = runner.run([sys.executable, "-c", printer], env={}, timeout=30)
    files = parse_ltx_files(result.stdout)
    assert [f.max_txid_number for f in files] == list(range(1, 1001))


def test_output_past_the_byte_cap_is_refused_not_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "MAX_PARSED_OUTPUT", 10_000)
    with pytest.raises(UnreadableOutput, match="more than"):
        runner.run([sys.executable, "-c", "[print('y' * 99) for _ in range(200)]"], env={}, timeout=30)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_ltx_files, '[{"level": 0, "min_txid": "00'),
        (parse_ltx_files, '{"not": "a list"}'),
        (parse_ltx_files, '[{"level": "zero"}]'),
        (parse_restore_report, '{"db_path": 3}'),
    ],
    ids=["cut", "not-a-list", "wrong-fields", "restore-report"],
)
def test_output_pylts_cannot_read_is_a_pylts_error(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(UnreadableOutput, match="cannot read litestream's") as raised:
        parse(text)
    assert isinstance(raised.value, PyltsError)


@pytest.mark.line03
def test_a_row_of_a_litestream_03_table_pylts_cannot_read_is_a_pylts_error() -> None:
    tables = importlib.import_module("pylts.lines.v03.tables")  # by name: this test goes with the 0.3 line
    with pytest.raises(UnreadableOutput, match="cannot read litestream's list of snapshots"):
        tables.parse_rows("list of snapshots", Snapshot.model_validate, [{"replica": "s3"}])
