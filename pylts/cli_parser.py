"""The ``pylts`` command line, built without importing pydantic: ``--help`` and a usage error answer at once.

The settings options come from `pylts.cli_settings`, a table generated from the settings models; `pylts.cli`
runs the command that was parsed. Each parsed command names its job (``args.job``):

>>> parse(["status", "--json"], version="0.1.0").job
'contents'
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import cli_settings
from .cli_settings import SettingOption
from .timing import BACKUP_TIMEOUT, FOLLOW_INTERVAL, FOLLOW_STALL_TIMEOUT, RESTORE_TIMEOUT, VERIFY_TIMEOUT

#: The address ``--status-port`` listens on unless ``--status-host`` says otherwise: this machine only.
STATUS_HOST = "127.0.0.1"
_WIDTH = 100


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_WIDTH, max_help_position=34)


def _settings_options(*tables: tuple[SettingOption, ...]) -> argparse.ArgumentParser:
    """Options for the settings in ``tables`` (`pylts.cli_settings`), named after what each is (``--replica-url``)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (each also read from its environment variable or .env)")
    for flags, dest, help_text, is_flag in (option for table in tables for option in table):
        if is_flag:
            group.add_argument(*flags, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(
                *flags, dest=dest, metavar=flags[0][2:].replace("-", "_").upper(), default=None, help=help_text
            )
    return parent


def _global_options(*, after_the_command: bool) -> argparse.ArgumentParser:
    """``--env-file``, ``-v``, ``-q``: accepted before the command, and after it.

    After the command, an option not given must not undo one given before it, and counts add up
    (``pylts -v replicate -v`` is ``-vv``): the counts after it go to ``*_after`` (see `parse`).
    """
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global options (before or after the command)")
    after = "_after" if after_the_command else ""

    def unset(value: object) -> object:
        return argparse.SUPPRESS if after_the_command else value

    group.add_argument(
        "--env-file", metavar="PATH", default=unset(None), help="read settings from this file instead of ./.env"
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest=f"verbose{after}",
        action="count",
        default=0,
        help="say more on stderr: each litestream command and line it prints [PYLTS_LOG_LEVEL=debug]",
    )
    group.add_argument(
        "-q",
        "--quiet",
        dest=f"quiet{after}",
        action="count",
        default=0,
        help="say less: warnings and errors only, no progress line (-qq: errors only) [PYLTS_LOG_LEVEL=warning]",
    )
    return parent


def parse(argv: Sequence[str] | None, *, version: str) -> argparse.Namespace:
    """The command line parsed, with ``-v``/``-q`` given before the command added to those given after it.

    ``--help``, ``--version`` (which prints ``version``) and a usage error end the process here, as argparse does.
    """
    args = build_parser(version).parse_args(argv)
    args.verbose += getattr(args, "verbose_after", 0)
    args.quiet += getattr(args, "quiet_after", 0)
    return args


def build_parser(version: str) -> argparse.ArgumentParser:
    """The whole command line: one subcommand per job; ``--version`` prints ``version`` (pylts' own)."""
    parser = argparse.ArgumentParser(
        prog="pylts",
        description="Keep a SQLite database safe in S3-compatible storage, with litestream.",
        epilog=(
            "Exit codes: 0 done, 1 failure, 2 bad usage or settings, 3 no backup, 4 verify: lagging, 5 boot refused."
        ),
        formatter_class=_Formatter,
        parents=[_global_options(after_the_command=False)],
    )
    parser.add_argument("--version", action="version", version=f"pylts {version}")
    global_options = _global_options(after_the_command=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    settings = _settings_options(cli_settings.DATABASE)

    def command(
        name: str,
        summary: str,
        example: str,
        options: argparse.ArgumentParser = settings,
        old_names: Sequence[str] = (),
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            aliases=list(old_names),
            help=summary,
            description=summary,
            epilog=f"example:\n  {example}",
            parents=[options, global_options],
            formatter_class=_Formatter,
        )
        sub.set_defaults(job=name)
        return sub

    restore = command("restore", "Restore the database from its replica, atomically.", "pylts restore --if-missing")
    restore.add_argument(
        "--if-missing", action="store_true", help="restore only if the database is missing; no backup is not an error"
    )
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.add_argument(
        "--timestamp", metavar="RFC3339", help="restore the database as it was then, e.g. 2026-11-22T12:00:00Z"
    )
    restore.add_argument("--txid", metavar="TXID", help="restore up to this transaction id (litestream 0.5)")
    restore.add_argument(
        "--from",
        dest="source",
        choices=["primary", "secondary"],
        default="primary",
        help="secondary: the newest snapshot of the second destination (PYLTS_SECONDARY_URL)",
    )
    restore.add_argument(
        "--integrity-check",
        choices=["quick", "full", "none"],
        default="quick",
        help="check run before moving into place",
    )
    restore.add_argument(
        "--timeout",
        type=float,
        default=RESTORE_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after this long (default {RESTORE_TIMEOUT:g}; each database gets as long)",
    )
    restore.add_argument(
        "--dry-run",
        action="store_true",
        help="print the files, bytes and expected time of the restore; download and write nothing",
    )

    replicate = command(
        "replicate",
        "Replicate continuously, once (--once), or around a command (--exec).",
        'pylts replicate --exec "gunicorn app:app"',
    )
    mode = replicate.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="back up once and exit as soon as the backup is durable")
    mode.add_argument("--exec", metavar="COMMAND", help="run COMMAND under replication and exit with its exit code")
    replicate.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"with --once: give up after this long (default {BACKUP_TIMEOUT:g})",
    )
    replicate.add_argument(
        "--delete", action="store_true", help="with --once: delete the database after a confirmed backup"
    )
    replicate.add_argument(
        "--status-port",
        type=int,
        metavar="PORT",
        help="serve a status page at http://HOST:PORT/ and pylts' metrics at /metrics (see docs/monitoring.md)",
    )
    replicate.add_argument(
        "--status-host",
        default=STATUS_HOST,
        metavar="HOST",
        help=f"the address of --status-port (default {STATUS_HOST}: this machine only)",
    )

    verify = command(
        "verify",
        "Prove the backup restores and is current (a sentinel row round trip).",
        "pylts verify --sync",
    )
    verify.add_argument(
        "--sync", action="store_true", help="make a one-shot backup of the sentinel (when no replication runs)"
    )
    verify.add_argument(
        "--timeout",
        type=float,
        default=VERIFY_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the sentinel may take (default {VERIFY_TIMEOUT:g})",
    )

    config = command(
        "config",
        "Print the litestream config for these settings (no secrets in it).",
        "pylts config --output litestream.yml",
    )
    config.add_argument(
        "--output", metavar="PATH", help="write it to PATH (owner-only permissions) instead of printing it"
    )

    contents = command(
        "contents",
        "List what the replica holds (`status`, its old name, still works).",
        "pylts contents --json",
        old_names=["status"],
    )
    contents.add_argument("--json", action="store_true", help="print the listing as JSON")

    points = command(
        "points",
        "List what the replica can restore to: earliest and latest point, snapshots, granularity by age, size.",
        "pylts points --json",
    )
    points.add_argument("--json", action="store_true", help="print the restore points as JSON")

    doctor = command(
        "doctor",
        "Check the deployment: database, store, software, running system; one line each, with the fix.",
        "pylts doctor --app-busy-timeout 5",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument(
        "--app-busy-timeout",
        type=float,
        metavar="SECONDS",
        help="the busy timeout of the app's own connections (per connection: doctor cannot see it)",
    )
    doctor.add_argument(
        "--replicating", action="store_true", help="this deployment's replicator runs now: its lock is expected"
    )

    follow = command(
        "follow",
        "Keep a read-only copy of the replica up to date (litestream 0.5), until stopped.",
        "pylts follow --path /srv/replica/app.db",
    )
    follow.add_argument("--path", metavar="PATH", help="where the copy lives (default: the database path)")
    follow.add_argument(
        "--interval", type=float, default=FOLLOW_INTERVAL, metavar="SECONDS", help="how often to poll (default 1)"
    )
    follow.add_argument(
        "--stall-timeout",
        type=float,
        default=FOLLOW_STALL_TIMEOUT,
        metavar="SECONDS",
        help="rebuild the copy when it lags this long without advancing (default 30)",
    )

    migrate = command(
        "migrate",
        "Move a litestream 0.3 replica to 0.5's layout: restore, check, write anew, prove it restores.",
        "pylts migrate --dry-run",
    )
    migrate.add_argument(
        "--to", metavar="URL", help="write the 0.5 backup to this s3://BUCKET/PATH instead of the same URL"
    )
    migrate.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")
    migrate.add_argument(
        "--timeout",
        type=float,
        default=RESTORE_TIMEOUT,
        metavar="SECONDS",
        help=f"give up after this long (default {RESTORE_TIMEOUT:g})",
    )

    binary_options = _settings_options(cli_settings.BINARY)
    command(
        "version",
        "Print the versions of pylts and litestream, and the line that drives it.",
        "pylts version",
        binary_options,
    )
    return parser
