"""Files shown in the docs are written into the pages, so that a page reads the same raw and built.

A page names the file between two HTML comments, which neither a code host nor mkdocs shows;
what is between them is the file, fenced as code unless it is markdown:

    <!-- inline examples/quickstart.py: `python3 tasks.py docs` rewrites this part; a test keeps it current -->

    ```python
    ...the file...
    ```

    <!-- end inline -->

``python3 tests/doc_inlines.py`` (and ``python3 tasks.py docs``) rewrites every page's inlined files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_INLINE = re.compile(
    r"^(<!-- inline (?P<path>\S+): `python3 tasks\.py docs` rewrites this part; a test keeps it current -->\n)"
    r"(?P<body>.*?)"
    r"^(<!-- end inline -->)$",
    flags=re.S | re.M,
)
_FENCES = {".py": "python", ".md": "", ".json": "json", ".txt": "text"}


def inlined_files(page: str) -> list[str]:
    """The files ``page`` inlines, as paths from the repository's root."""
    return [match["path"] for match in _INLINE.finditer(page)]


def without_inlines(page: str) -> str:
    """``page`` without the inlined files (they are run by their own tests, not as the page's examples)."""
    return _INLINE.sub(r"\1\4", page)


def with_inlines(page: str, root: Path = ROOT) -> str:
    """``page`` with each inlined file as it is now in ``root``.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "hello.py").write_text("print('hi')\\n")
    >>> marker = "<!-- inline hello.py: `python3 tasks.py docs` rewrites this part; a test keeps it current -->"
    >>> print(with_inlines(f"Run:\\n\\n{marker}\\nstale\\n<!-- end inline -->\\n", root))
    Run:
    <BLANKLINE>
    <!-- inline hello.py: `python3 tasks.py docs` rewrites this part; a test keeps it current -->
    <BLANKLINE>
    ```python
    print('hi')
    ```
    <BLANKLINE>
    <!-- end inline -->
    <BLANKLINE>
    """

    def body(match: re.Match[str]) -> str:
        path = root / match["path"]
        text = path.read_text().rstrip("\n") + "\n"
        fence = _FENCES.get(path.suffix, "sh")
        shown = text if path.suffix == ".md" else f"```{fence}\n{text}```\n"
        return f"{match[1]}\n{shown}\n{match[4]}"  # blank lines: markdown after a comment is not read as HTML

    return _INLINE.sub(body, page)


def rewrite(pages: list[Path] = PAGES) -> list[Path]:
    """Bring every page's inlined files up to date; return the pages changed."""
    changed = []
    for page in pages:
        text = page.read_text()
        if (fresh := with_inlines(text)) != text:
            page.write_text(fresh)
            changed.append(page)
    return changed


if __name__ == "__main__":
    for page in rewrite():
        print(f"rewrote the inlined files of {page.relative_to(ROOT)}")
    sys.exit(0)
