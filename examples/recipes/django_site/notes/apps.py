"""Restore the database before Django opens it: AppConfig.ready() runs before any query."""

from django.apps import AppConfig
from django.conf import settings


class NotesConfig(AppConfig):
    name = "notes"

    def ready(self) -> None:
        settings.PYLTS.ensure_restored()
