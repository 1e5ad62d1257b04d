"""The README and the docs read well raw: no include markers, and the files they show are current."""

from __future__ import annotations

import doctest
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import doc_inlines
import pytest
from doc_inlines import PAGES, ROOT, inlined_files, with_inlines
from helpers import free_port, require, waited


def test_no_page_shows_an_include_marker_raw() -> None:
    marked = [str(page.relative_to(ROOT)) for page in PAGES if "--8<--" in page.read_text()]
    assert marked == [], "inline the file instead: see tests/doc_inlines.py"


def test_every_inlined_file_is_current() -> None:
    shown = {path for page in PAGES for path in inlined_files(page.read_text())}
    assert {"examples/quickstart.py", ".env.example", "docs/_generated/drill-figures.md"} <= shown
    assert all((ROOT / path).is_file() for path in shown)
    stale = [str(page.relative_to(ROOT)) for page in PAGES if with_inlines(page.read_text()) != page.read_text()]
    assert stale == [], "run: python3 tasks.py docs (or python3 tests/doc_inlines.py)"


def test_a_stale_page_is_seen_and_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    quickstart = (ROOT / "docs" / "quickstart.md").read_text()
    page.write_text(quickstart.replace("visit(s) recorded", "visits recorded", 1))
    assert doc_inlines.rewrite([page]) == [page]
    assert page.read_text() == quickstart
    assert doc_inlines.rewrite([page]) == []


def test_the_examples_of_the_generator_pass() -> None:
    results = doctest.testmod(doc_inlines)
    assert results.attempted >= 1 and results.failed == 0


@pytest.mark.slow
def test_tasks_docs_serves_the_site_on_localhost(tmp_path: Path) -> None:
    require("mkdocs")
    port, log = free_port(), tmp_path / "serve.log"
    page = ""

    def served() -> bool:
        nonlocal page
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/quickstart/", timeout=5) as response:
                page = response.read().decode()
        except OSError:
            return False
        return True

    with (
        log.open("w") as out,
        subprocess.Popen(
            [sys.executable, "tasks.py", "docs", "--dev-addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ) as server,
    ):
        try:
            assert waited(served, timeout=180) is not None, log.read_text()
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=30)
    assert "--8&lt;--" not in page
    assert "ensure_restored" in page  # the inlined example, rendered
