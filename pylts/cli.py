"""The ``pylts`` command: a thin layer over ``ConfigS3`` that turns its errors into one line and an exit code.

Exit codes: 0 done; 1 failure; 2 bad usage or settings; 3 the replica holds no backup;
4 verify found the replica lagging; with ``replicate --exec``, the command's own code.

Settings come from the environment and ``.env`` as for ``ConfigS3``; each non-secret
setting can also be given as an option. Credentials are never options: a command
line is visible to every user of the machine.

>>> main(["config", "--s3", "s3://backups/app.db", "--folder", "/srv/app", "--db", "app.db", "--use-aws-credential-chain"])
dbs:
  - path: "/srv/app/app.db"
    replica:
      type: "s3"
      bucket: "backups"
      path: "app.db"
      access-key-id: "${LITESTREAM_ACCESS_KEY_ID}"
      secret-access-key: "${LITESTREAM_SECRET_ACCESS_KEY}"
0
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from . import __version__, binary
from .errors import FinalSyncFailed, InvalidArgument, InvalidSettingsFile, NoBackupFound, PyltsError
from .settings import ConfigS3
from .supervisor import run_app

EXIT_FAILURE, EXIT_USAGE, EXIT_NO_BACKUP, EXIT_LAGGING = 1, 2, 3, 4


class _Usage(Exception):
    """A combination of options that cannot work."""
_SECRETS = {"key", "token"}
_WIDTH = 100


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_WIDTH, max_help_position=34)


def _settings_options() -> argparse.ArgumentParser:
    """Options for every non-secret ConfigS3 field, named after the field."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (each also read from its environment variable or .env)")
    group.add_argument("--env-file", metavar="PATH", help="read settings from this file instead of ./.env")
    for name, field in ConfigS3.model_fields.items():
        if name in _SECRETS:
            continue
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description} [{field.validation_alias}]"
        if field.annotation in (bool, bool | None):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag, dest=name, metavar=name.upper(), default=None, help=help_text)
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="pylts",
        description="Keep a SQLite database safe in S3-compatible storage, with litestream.",
        epilog="Exit codes: 0 done, 1 failure, 2 bad usage or settings, 3 no backup, 4 verify: lagging.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"pylts {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    settings = _settings_options()

    def command(name: str, summary: str, example: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary, description=summary, epilog=f"example:\n  {example}", parents=[settings], formatter_class=_Formatter
        )
        sub.set_defaults(run=run)
        return sub

    restore = command("restore", "Restore the database from its replica, atomically.", "pylts restore --if-missing", _restore)
    restore.add_argument("--if-missing", action="store_true", help="restore only if the database is missing; no backup is not an error")
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.add_argument("--timestamp", metavar="RFC3339", help="restore the database as it was then, e.g. 2026-11-22T12:00:00Z")
    restore.add_argument("--txid", metavar="TXID", help="restore up to this transaction id (litestream 0.5)")
    restore.add_argument("--integrity-check", choices=["quick", "full", "none"], default="quick", help="check run before moving into place")
    restore.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS", help="give up after this long (default 600)")

    replicate = command(
        "replicate", "Replicate continuously, once (--once), or around a command (--exec).", 'pylts replicate --exec "gunicorn app:app"', _replicate
    )
    mode = replicate.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="back up once and exit as soon as the backup is durable")
    mode.add_argument("--exec", metavar="COMMAND", help="run COMMAND under replication and exit with its exit code")
    replicate.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="with --once: give up after this long (default 60)")
    replicate.add_argument("--delete", action="store_true", help="with --once: delete the database after a confirmed backup")

    verify = command("verify", "Prove the backup restores and is current (a sentinel row round trip).", "pylts verify --sync", _verify)
    verify.add_argument("--sync", action="store_true", help="make a one-shot backup of the sentinel (when no replication runs)")
    verify.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="how long the sentinel may take (default 60)")

    config = command("config", "Print the litestream config for these settings (no secrets in it).", "pylts config --output litestream.yml", _config)
    config.add_argument("--output", metavar="PATH", help="write it to PATH (owner-only permissions) instead of printing it")

    status = command("status", "List what the replica holds.", "pylts status --json", _status)
    status.add_argument("--json", action="store_true", help="print the listing as JSON")

    command("version", "Print the versions of pylts and litestream.", "pylts version", _version)
    return parser


def _config_from(args: argparse.Namespace) -> ConfigS3:
    given = {name: getattr(args, name) for name in ConfigS3.model_fields if getattr(args, name, None) is not None}
    return ConfigS3(_env_file=args.env_file or ".env", **given)


def _restore(args: argparse.Namespace) -> int:
    cfg = _config_from(args)
    if args.if_missing:
        if args.force or args.timestamp or args.txid:
            raise _Usage("--if-missing restores only a missing database: it cannot go with --force, --timestamp or --txid")
        outcome = cfg.ensure_restored(integrity_check=args.integrity_check, timeout_seconds=args.timeout)
        print(f"{cfg.dbpath}: {outcome.value}")
        return 0
    cfg.restore(
        overwrite=args.force, timestamp=args.timestamp, txid=args.txid, integrity_check=args.integrity_check, timeout_seconds=args.timeout
    )
    print(f"restored {cfg.dbpath} from {cfg.s3}")
    return 0


def _replicate(args: argparse.Namespace) -> int:
    cfg = _config_from(args)
    if args.once:
        if not cfg.timed_replicate(args.timeout, delete=args.delete):
            print(f"pylts: error: the backup did not finish within {args.timeout:g} s", file=sys.stderr)
            return EXIT_FAILURE
        print(f"backed up {cfg.dbpath} to {cfg.s3}")
        return 0
    if args.exec:
        try:
            return run_app([cfg], shlex.split(args.exec))
        except FinalSyncFailed as exc:
            print(f"pylts: error: {exc}", file=sys.stderr)
            return exc.app_returncode or EXIT_FAILURE
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with cfg.replicating() as replication:
        print(f"replicating {cfg.dbpath} to {cfg.s3} (pid {replication.status().pid}); stop with Ctrl-C", flush=True)
        stop.wait()
    print("stopped after the final sync")
    return 0


def _verify(args: argparse.Namespace) -> int:
    result = _config_from(args).verify(timeout_seconds=args.timeout, sync=args.sync)
    lag = f" (lag {result.lag_seconds:.2f} s)" if result.lag_seconds is not None else ""
    print(f"{result.status}{lag}: {result.detail}")
    return {"ok": 0, "lagging": EXIT_LAGGING}.get(result.status, EXIT_FAILURE)


def _config(args: argparse.Namespace) -> int:
    cfg = _config_from(args)
    if args.output:
        print(f"wrote {cfg.write_litestream_config(args.output)}")
    else:
        print(cfg.litestream_config(), end="")
    return 0


def _status(args: argparse.Namespace) -> int:
    contents = _config_from(args).replica_contents()
    if args.json:
        print(contents.model_dump_json(indent=2))
        return 0
    if contents.empty or contents.latest is None:
        print("the replica holds no backup yet")
        return EXIT_NO_BACKUP
    print(f"latest backup written {contents.latest:%Y-%m-%dT%H:%M:%SZ} (litestream {contents.litestream_version})")
    for ltx in contents.ltx_files:
        print(f"ltx  level {ltx.level}  txid {ltx.min_txid}-{ltx.max_txid}  {ltx.size:>10,} B  {ltx.timestamp:%Y-%m-%dT%H:%M:%SZ}")
    for generation in contents.generations:
        print(f"generation {generation.generation}  {generation.start:%Y-%m-%dT%H:%M:%SZ} .. {generation.end:%Y-%m-%dT%H:%M:%SZ}  lag {generation.lag}")
    for snap in contents.snapshots:
        print(f"snapshot {snap.generation}/{snap.index}  {snap.size:>10,} B  {snap.created:%Y-%m-%dT%H:%M:%SZ}")
    return 0


def _version(args: argparse.Namespace) -> int:
    explicit = args.litestream_bin or os.environ.get("LITESTREAM_BIN")
    found = binary.locate(Path(explicit) if explicit else None)
    print(f"pylts {__version__}\nlitestream {found.version} at {found.path}")
    return 0


def _validation_message(exc: ValidationError) -> str:
    """Each problem as 'SETTING: message', never with the value given (it may be a secret)."""
    return "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}" for error in exc.errors())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ValidationError as exc:
        print(f"pylts: error: invalid settings: {_validation_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (_Usage, InvalidArgument, InvalidSettingsFile) as exc:
        print(f"pylts: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NoBackupFound as exc:
        print(f"pylts: error: {exc}", file=sys.stderr)
        return EXIT_NO_BACKUP
    except PyltsError as exc:
        print(f"pylts: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def reference_markdown() -> str:
    """The CLI reference page of the docs, made from ``--help`` (a test keeps docs/cli.md equal to it)."""
    parser = build_parser()
    parts = ["# CLI reference", "", "Generated from `pylts --help` by `python3 tasks.py cli-docs`; a test keeps it current.", ""]
    parts += ["```text", parser.format_help().rstrip(), "```", ""]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        parts += [f"## pylts {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def _entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


