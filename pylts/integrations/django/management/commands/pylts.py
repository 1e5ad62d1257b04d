"""``manage.py pylts ...``: the pylts command line, with its settings taken from Django's."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from pylts.cli import EXIT_USAGE, main
from pylts.errors import InvalidSettings
from pylts.integrations.django import pylts_settings


class Command(BaseCommand):
    help = "pylts: restore, replicate, verify and status, with settings from DATABASES and PYLTS"

    def run_from_argv(self, argv: list[str]) -> None:
        """Hand every argument after ``pylts`` to pylts' own parser (so ``--help`` is pylts')."""
        try:
            settings = pylts_settings()
        except InvalidSettings as exc:
            print(f"pylts: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        sys.exit(main(argv[2:], settings=settings))
