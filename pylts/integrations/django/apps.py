"""The Django app: restore the database in ``ready()``, before any query."""

from __future__ import annotations

import sys

from django.apps import AppConfig

from ...settings import ConfigS3
from . import pylts_settings


class PyltsConfig(AppConfig):
    name = "pylts.integrations.django"
    label = "pylts"
    verbose_name = "pylts"

    def ready(self) -> None:
        """Restore a missing database; refuse to boot on a stale or foreign one (`BootRefused`).

        ``manage.py pylts ...`` skips this: its own commands decide, and ``contents`` must work
        on a machine whose boot is refused.
        """
        if sys.argv[1:2] == ["pylts"]:
            return
        ConfigS3.load(**pylts_settings()).ensure_restored()
