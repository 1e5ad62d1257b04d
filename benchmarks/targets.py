"""The targets the figures are held to, each checked against what this run measured: printed last, met or missed.

Sections call `check` as they measure; ``python -m benchmarks`` prints `rows` as its final table,
so a missed target is shown as missed in the same report as the figure that missed it.

>>> TARGETS.clear()
>>> check("`restore()` at 10 MB, against bare", 1.04, 1.1, "×")
>>> check("idle requests per minute, low-cost mode", 1.7, 1.0, "")
>>> print("\\n".join(rows()))
| target | measured | limit | met |
| --- | --- | --- | --- |
| `restore()` at 10 MB, against bare | 1.04× | ≤ 1.10× | **met** |
| idle requests per minute, low-cost mode | 1.70 | ≤ 1.00 | **missed** |
"""

from __future__ import annotations

from dataclasses import dataclass

from .harness import table_row


@dataclass(frozen=True)
class Target:
    """One figure of this run against its limit (at most)."""

    what: str
    measured: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit


#: What this run checked, in the order it measured it.
TARGETS: list[Target] = []


def check(what: str, measured: float, limit: float, unit: str) -> None:
    """Hold ``measured`` to at most ``limit`` (``unit``: "×" for a ratio, " s", " ms", or "" for a count)."""
    TARGETS.append(Target(what, measured, limit, unit))


def rows() -> list[str]:
    """The targets as a Markdown table; empty when the sections run checked none."""
    if not TARGETS:
        return []
    lines = [table_row("target", "measured", "limit", "met"), table_row(*["---"] * 4)]
    for target in TARGETS:
        shown = f"{target.measured:.2f}{target.unit}"
        verdict = "**met**" if target.met else "**missed**"
        lines.append(table_row(target.what, shown, f"≤ {target.limit:.2f}{target.unit}", verdict))
    return lines
