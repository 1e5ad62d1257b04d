"""The alert settings: a webhook called when a database stays failing, and how long is too long.

`AlertSettings` is a base of `S3Settings`: ``PYLTS_ALERT_WEBHOOK`` (a secret: the URL usually carries
the receiver's token) and ``PYLTS_ALERT_AFTER``. `alert_watcher` builds the `pylts.alerts.AlertWatcher`
that ``pylts replicate`` runs beside replication when a webhook is set.

>>> settings = AlertSettings(alert_webhook="https://hooks.example.com/T0/abc", alert_after="2m", _env_file=None)
>>> settings.alert_after.total_seconds(), "abc" in repr(settings)
(120.0, False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from pydantic import Field

from .alerts import Alert, AlertWatcher
from .health import DatabaseHealth
from .settings_base import Duration, HeartbeatUrl, PyltsSettings
from .timing import ALERT_AFTER

__all__ = ["AlertSettings"]


class AlertSettings(PyltsSettings):
    """Where alerts go when replication fails for too long, and after how long."""

    alert_webhook: HeartbeatUrl | None = Field(
        None,
        validation_alias="PYLTS_ALERT_WEBHOOK",
        repr=False,
        description="an http(s) URL, a secret; gets a JSON POST once a database has been failing for "
        "`alert_after`, and once when it recovers; see [Monitoring](monitoring.md#alerts)",
    )
    alert_after: Duration = Field(
        timedelta(seconds=ALERT_AFTER),
        validation_alias="PYLTS_ALERT_AFTER",
        description="how long a database must stay failing (or restarting) before the alert; a shorter blip "
        "raises none",
        json_schema_extra={"shown_default": "`1m`"},
    )

    def alert_watcher(
        self, health: Callable[[], Sequence[DatabaseHealth]], callback: Callable[[Alert], object] | None = None
    ) -> AlertWatcher | None:
        """An `AlertWatcher` of ``health`` to the webhook and/or ``callback``; None when there is neither."""
        if self.alert_webhook is None and callback is None:
            return None
        return AlertWatcher(
            health, after=self.alert_after.total_seconds(), callback=callback, webhook=self.alert_webhook
        )
