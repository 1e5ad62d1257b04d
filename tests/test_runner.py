"""The process runner, exercised with real child processes that misbehave on purpose."""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import threading
import time

import pytest
from helpers import pylts_log

from pylts.deadline import Deadline
from pylts.errors import InvalidArgument, LitestreamTimeout
from pylts.output import OutputLine
from pylts.runner import TAIL_BYTES, ManagedProcess, guard_pid, guarded, run

ENV = dict(os.environ)
PY = sys.executable


def python(code: str) -> list[str]:
    return [PY, "-c", code]


def test_run_returns_exit_code_and_output() -> None:
    result = run(python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"), env=ENV, timeout=20)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out", "err")


def test_parsed_stdout_is_whole_and_stderr_a_bounded_tail() -> None:
    code = "import sys\nfor i in range(20000): print('line', i); print('log line', i, file=sys.stderr)"
    result = run(python(code), env=ENV, timeout=30)
    assert result.stdout.splitlines() == [f"line {i}" for i in range(20000)]
    tail = result.stderr.splitlines()
    assert tail[-1] == "log line 19999" and len(result.stderr) <= TAIL_BYTES < 20000 * len("log line 19999")


def test_timeout_stops_and_reaps_within_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(LitestreamTimeout, match=re.escape("did not finish within 0.5 s")) as caught:
        run(python("import time; print('started', flush=True); time.sleep(60)"), env=ENV, timeout=0.5)
    assert time.monotonic() - started < 10
    assert "started" in caught.value.output


def test_stop_sends_sigterm_first() -> None:
    ready = threading.Event()
    code = (
        "import signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(7)); "
        "print('ready', flush=True); time.sleep(60)"
    )
    with ManagedProcess(python(code), env=ENV, on_line=lambda line: ready.set()) as proc:
        assert ready.wait(20)
        assert proc.stop(grace=10) == 7


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    ready = threading.Event()
    code = (
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    with ManagedProcess(python(code), env=ENV, on_line=lambda line: ready.set(), stop_grace=0.3) as proc:
        assert ready.wait(20)
    assert proc.returncode == -signal.SIGKILL


def test_an_exception_in_the_block_still_reaps_the_child() -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        ManagedProcess(python("import time; time.sleep(60)"), env=ENV, stop_grace=5) as proc,
    ):
        raise KeyboardInterrupt
    assert proc.returncode == -signal.SIGTERM


SECRETS = ["TOPSECRET123", "s"]  # "s": a short secret is in every word litestream prints ("size")
PRINTS = python("print('{\"size\": 1} key=TOPSECRET123', flush=True); import time; time.sleep(60)")


def test_output_is_kept_as_printed_for_parsing_and_redacted_where_shown() -> None:
    """Masking ``s`` before parsing once turned litestream's ``"size"`` into ``"***ize"``."""
    seen: list[str] = []
    with pylts_log(lambda record: seen.append(record.getMessage())):
        result = run(python("print('{\"size\": 1} key=TOPSECRET123')"), env=ENV, timeout=20, secrets=SECRETS)
    assert result.stdout == '{"size": 1} key=TOPSECRET123', "what is parsed is what was printed"
    said = [text.partition("] ")[2] for text in seen if text.startswith("litestream[")]
    assert said == ['{"***ize": 1} key=***'], "the log shows it redacted"
    assert "TOPSECRET123" not in repr(result)


def test_lines_handed_on_are_as_printed_and_show_redacted() -> None:
    lines: list[OutputLine] = []
    arrived = threading.Event()

    def arrive(line: OutputLine) -> None:
        lines.append(line)
        arrived.set()

    with ManagedProcess(PRINTS, env=ENV, secrets=SECRETS, on_line=arrive, stop_grace=5) as proc:
        assert arrived.wait(20)
        assert proc.output("stdout") == '{"size": 1} key=TOPSECRET123'
    assert lines[0].text == '{"size": 1} key=TOPSECRET123'
    assert lines[0].shown == '{"***ize": 1} key=***'
    assert repr(lines[0]) == "OutputLine(stream='stdout', text='{\"***ize\": 1} key=***')"


def test_a_timeout_shows_what_was_printed_redacted() -> None:
    with pytest.raises(LitestreamTimeout) as caught:
        run(PRINTS, env=ENV, timeout=1, secrets=SECRETS)
    assert caught.value.output == '{"***ize": 1} key=***'
    assert "TOPSECRET123" not in f"{caught.value} {caught.value!r} {caught.value.argv}"


def test_lines_arrive_as_they_are_printed() -> None:
    lines: list[OutputLine] = []
    code = "import sys,time; print('first', flush=True); time.sleep(60)"
    arrived = threading.Event()

    def arrive(line: OutputLine) -> None:
        lines.append(line)
        arrived.set()

    with ManagedProcess(python(code), env=ENV, on_line=arrive, stop_grace=5):
        assert arrived.wait(20)
        assert lines == [OutputLine("stdout", "first")]


def test_command_must_be_a_list() -> None:
    with pytest.raises(InvalidArgument, match="list of arguments"):
        ManagedProcess("litestream replicate", env=ENV)


def test_the_role_is_app_or_litestream() -> None:
    with pytest.raises(InvalidArgument, match="role must be 'app' or 'litestream'"):
        ManagedProcess(python("pass"), env=ENV, role="web")  # type: ignore[arg-type]


def test_the_guard_watches_a_child_until_it_is_reaped() -> None:
    with ManagedProcess(python("import time; time.sleep(60)"), env=ENV, stop_grace=5) as proc:
        assert proc.pid in guarded()
        guard = guard_pid()
        assert guard is not None and os.getpgid(guard) == guard != os.getpgid(0)  # its own session
    assert proc.pid not in guarded()
    assert run(python("pass"), env=ENV, timeout=20).returncode == 0
    assert guard_pid() == guard  # one guard per process, for every child


@pytest.mark.parametrize("seconds", [0, -1, math.inf, math.nan, True, "5"])
def test_deadline_refuses_nonsense(seconds: object) -> None:
    with pytest.raises(InvalidArgument, match="positive number of seconds"):
        Deadline(seconds)  # type: ignore[arg-type]


def test_a_short_command_is_known_finished_when_it_exits_not_at_the_next_poll() -> None:
    """Popen.wait(timeout) sleeps up to 50 ms between polls: a 70 ms listing came back ~40 ms late."""
    late = []
    for _ in range(5):
        started = time.monotonic()
        with ManagedProcess(["sleep", "0.07"], env=ENV) as proc:
            assert proc.wait(10) == 0
            late.append(time.monotonic() - started - 0.07)
    assert sorted(late)[2] < 0.02, f"wait() returned {sorted(late)[2] * 1000:.0f} ms after the exit (median)"
