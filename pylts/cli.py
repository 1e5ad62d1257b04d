"""The ``pylts`` command: a thin layer over ``ConfigS3`` that turns its errors into one line and an exit code.

Exit codes: 0 done; 1 failure; 2 bad usage or settings; 3 the replica holds no backup;
4 verify found the replica lagging; 5 the boot check refused the local database (stale,
foreign, or the replica is missing); with ``replicate --exec``, the command's own code
(128+N when a signal N ended it, as a shell reports it).

Settings come from the environment and ``.env`` as for ``ConfigS3``; each non-secret
setting can also be given as an option. Credentials are never options: a command
line is visible to every user of the machine. ``PYLTS_DATABASES`` (``--databases``) adds
databases replicated with the main one (`pylts.databases`). On a terminal, restores and
one-shot backups show a progress line on stderr (`pylts.progress`) unless ``--quiet``.

Results go to stdout; what a command decides and does goes to stderr, one line each
(`pylts.cli_log`: ``-v`` says more, ``-q`` less). The global options ``--env-file``,
``-v`` and ``-q`` go before the command or after it. A closed stdout (``pylts contents |
head -n 1``) ends the command quietly with status 141, as a shell reports SIGPIPE.

>>> main(["config", "--s3", "s3://backups/app.db", "--folder", "/srv/app", "--db", "app.db",
...       "--use-aws-credential-chain"])
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
import contextlib
import functools
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import SecretStr, TypeAdapter

from ._version import __version__
from .cli_log import lifecycle_lines, verbosity_level
from .cli_parser import build_parser, parse
from .cli_settings import SettingOption
from .config import ConfigS3
from .context import write_private
from .databases import DatabaseList, DatabaseSet
from .deadline import Deadline
from .errors import (
    BootRefused,
    DatabaseExists,
    FinalSyncFailed,
    InvalidArgument,
    InvalidSettings,
    InvalidSettingsFile,
    NoBackupFound,
    PyltsError,
    UnsupportedLitestreamVersion,
)
from .lines import line_for
from .points_text import print_plan, print_points
from .progress import Progress, database_bytes, staged_bytes
from .reports import ReplicaContents
from .settings import LitestreamSettings, PyltsSettings
from .settings_base import LOG_LEVEL, setting_help, shown_default
from .status_page import StatusServer, check_address
from .supervisor import Replicator
from .timing import BACKUP_TIMEOUT

EXIT_FAILURE, EXIT_USAGE, EXIT_NO_BACKUP, EXIT_LAGGING, EXIT_REFUSED = 1, 2, 3, 4, 5
#: A closed stdout ends the command with the status a shell gives a process SIGPIPE ended (128 + 13).
EXIT_BROKEN_PIPE = 141
#: The commands that run a while: each says how it ends (its exit status) as its last line.
_LONG_RUNNING = frozenset({"restore", "replicate", "follow", "migrate"})

logger = logging.getLogger(__name__)


_S = TypeVar("_S", bound=PyltsSettings)


class _Usage(Exception):
    """A combination of options that cannot work."""


class _Refused(Exception):
    """What the command was asked to do would change something it must not change unasked."""


_CONTENTS_BY_DATABASE = TypeAdapter(dict[str, ReplicaContents])


def _settings_from(model: type[_S], args: argparse.Namespace) -> _S:
    """``model`` from the options given, the environment and .env (or ``--env-file``, which must exist)."""
    given: dict[str, Any] = {name: value for name, value in args.settings.items() if name in model.model_fields}
    given |= {name: getattr(args, name) for name in model.model_fields if getattr(args, name, None) is not None}
    if args.env_file is not None:
        if not Path(args.env_file).is_file():
            raise _Usage(f"--env-file {args.env_file} does not exist or is not a file: name the settings file to read")
        given["_env_file"] = args.env_file
    return model.load(**given)


def _databases_from(args: argparse.Namespace) -> DatabaseSet[ConfigS3]:
    """The main database and those ``PYLTS_DATABASES`` (``--databases``) adds, checked together."""
    return DatabaseSet.of(_settings_from(ConfigS3, args), _settings_from(DatabaseList, args).entries)


def _one_database(args: argparse.Namespace, command: str) -> ConfigS3:
    """The settings of a command that works on one database; several listed is a usage error, not a guess."""
    dbs = _databases_from(args)
    if len(dbs.configs) > 1:
        raise _Usage(f"{command} works on one database: leave PYLTS_DATABASES unset (or give --databases '')")
    return dbs.main


def _progress(
    args: argparse.Namespace, label: str, measure: Callable[[], int]
) -> contextlib.AbstractContextManager[object]:
    """A progress line on stderr when it is a terminal and --quiet was not given; else nothing."""
    if args.level > logging.INFO or not sys.stderr.isatty():  # -q or PYLTS_LOG_LEVEL=warning
        return contextlib.nullcontext()
    return Progress(label, measure, sys.stderr)


def _restore_progress(args: argparse.Namespace, cfg: ConfigS3) -> contextlib.AbstractContextManager[object]:
    return _progress(args, f"restoring {cfg.db}", functools.partial(staged_bytes, cfg.dbpath))


def _restore(args: argparse.Namespace) -> int:
    if args.dry_run and (args.if_missing or args.force or args.source != "primary"):  # before settings are read
        raise _Usage(
            "--dry-run plans a restore from the primary replica: it cannot go with --if-missing, --force or "
            "--from secondary (a snapshot there is restored whole; `pylts restore --from secondary` restores it)"
        )
    dbs = _databases_from(args)
    if args.dry_run:
        if args.txid and len(dbs.configs) > 1:
            raise _Usage("--txid is a position in one database's history: with several databases plan by --timestamp")
        for cfg in dbs.configs:
            print_plan(cfg.restore_plan(timestamp=args.timestamp, txid=args.txid, timeout=args.timeout), cfg.dbpath)
        return 0
    if args.if_missing:
        if args.force or args.timestamp or args.txid or args.source != "primary":
            raise _Usage(
                "--if-missing restores only a missing database: it cannot go with --force, --timestamp, --txid or "
                "--from (the boot decision itself falls back to the second destination when the primary is empty)"
            )
        for cfg in dbs.configs:  # in order; the first refusal stops here, naming its database
            with _restore_progress(args, cfg):
                outcome = cfg.ensure_restored(integrity_check=args.integrity_check, timeout=args.timeout)
            print(f"{cfg.dbpath}: {outcome.value}")
        return 0
    if args.txid and len(dbs.configs) > 1:
        raise _Usage("--txid is a position in one database's history: with several databases restore by --timestamp")
    for cfg in dbs.configs:
        with _restore_progress(args, cfg):
            try:
                report = cfg.restore_report(
                    overwrite=args.force,
                    timestamp=args.timestamp,
                    txid=args.txid,
                    integrity_check=args.integrity_check,
                    timeout=args.timeout,
                    source=args.source,
                )
            except DatabaseExists:
                raise _Refused(
                    f"{cfg.dbpath} already exists: add --force to replace it (it stays in place until the restored "
                    "copy has passed its checks), or --if-missing to restore only a missing database"
                ) from None
        print(f"restored {cfg.dbpath} from {cfg.s3 if args.source == 'primary' else report.replica}")
    return 0


def _replicate(args: argparse.Namespace) -> int:
    _check_once_options(args)
    app = _app_argv(args.exec) if args.exec is not None else None
    dbs = _databases_from(args)
    if args.once:
        return _backup_once(args, dbs)
    if args.status_port is not None:  # before anything runs: a busy port changes nothing
        check_address(args.status_host, args.status_port)
    beside = functools.partial(_monitoring, args, dbs.main)
    if app is not None:
        try:
            return _shell_exit_code(dbs.run_app(app, beside=beside))
        except FinalSyncFailed as exc:
            print(f"pylts: error: {exc}", file=sys.stderr)
            return _shell_exit_code(exc.app_returncode or 0) or EXIT_FAILURE
    stop = _stop_on_signals()
    with dbs.replicating() as replicator, beside(replicator):
        logger.info("running until stopped by Ctrl-C or SIGTERM (a final sync runs before the exit)")
        _wait_for(stop)
    return 0


@contextlib.contextmanager
def _monitoring(args: argparse.Namespace, cfg: ConfigS3, replicator: Replicator) -> Iterator[None]:
    """The status page (``--status-port``) and the alerts (``PYLTS_ALERT_WEBHOOK``) beside running replication."""
    with contextlib.ExitStack() as beside:
        if args.status_port is not None:
            beside.enter_context(StatusServer(replicator, args.status_port, args.status_host))
        watcher = cfg.alert_watcher(replicator.health)
        if watcher is not None:
            beside.enter_context(watcher)
        yield


class _Stop(threading.Event):
    """Set by SIGTERM, SIGINT or SIGHUP; ``signum`` says which. The handler only notes it: writing a line
    there could block on a full stderr, or meet a line the main thread is writing."""

    signum = 0

    def stopping(self, signum: int, _frame: object) -> None:
        self.signum = signum
        self.set()


def _stop_on_signals() -> _Stop:
    """An event SIGTERM, SIGINT and SIGHUP set: a command that runs until stopped waits on it."""
    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop.stopping)
    return stop


def _wait_for(stop: _Stop) -> None:
    stop.wait()
    logger.info("%s: stopping", signal.Signals(stop.signum).name)


def _backup_once(args: argparse.Namespace, dbs: DatabaseSet[ConfigS3]) -> int:
    """One backup of each database in turn, all within --timeout."""
    deadline = Deadline(BACKUP_TIMEOUT if args.timeout is None else args.timeout)
    for cfg in dbs.configs:
        with _progress(args, f"backing up {cfg.db}", functools.partial(database_bytes, cfg.dbpath)):
            done = not deadline.expired and cfg.timed_replicate(deadline.remaining(), delete=args.delete)
        if not done:
            print(
                f"pylts: error: the backup of {cfg.dbpath} did not finish within {deadline.seconds:g} s",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        print(f"backed up {cfg.dbpath} to {cfg.s3}")
    return 0


def _check_once_options(args: argparse.Namespace) -> None:
    """Refuse the options of a one-shot backup when replication runs until stopped (they would be ignored)."""
    if args.once:
        if args.status_port is not None:
            raise _Usage("--status-port goes with continuous replication or --exec; --once exits after one backup")
        return
    options = (("--timeout", args.timeout), ("--delete", args.delete))
    given = [flag for flag, value in options if value not in (None, False)]
    if given:
        mode = "--exec" if args.exec is not None else "continuous replication"
        verb = "goes" if len(given) == 1 else "go"
        raise _Usage(f"{' and '.join(given)} {verb} with --once (a one-shot backup); {mode} runs until stopped")


def _app_argv(command: str) -> list[str]:
    """The argv of ``--exec COMMAND``, split as a shell would; an empty one is refused, not ignored."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise _Usage(f"--exec: {exc}: quote the command as you would in a shell") from None
    if not argv:
        raise _Usage('--exec got no command (is the variable that holds it set?): e.g. --exec "gunicorn app:app"')
    return argv


def _shell_exit_code(returncode: int) -> int:
    """A command ended by signal N gives -N; a shell reports 128+N (143 for SIGTERM, 137 for SIGKILL)."""
    return 128 - returncode if returncode < 0 else returncode


def _verify(args: argparse.Namespace) -> int:
    dbs = _databases_from(args)
    statuses = []
    for cfg in dbs.configs:
        result = cfg.verify(timeout=args.timeout, sync=args.sync)
        lag = f" (lag {result.lag_seconds:.2f} s)" if result.lag_seconds is not None else ""
        which = f"{cfg.dbpath}: " if len(dbs.configs) > 1 else ""
        print(f"{which}{result.status}{lag}: {result.detail}")
        statuses.append(result.status)
    if all(status == "ok" for status in statuses):
        return 0
    return EXIT_LAGGING if all(status in ("ok", "lagging") for status in statuses) else EXIT_FAILURE


def _config(args: argparse.Namespace) -> int:
    text = _databases_from(args).litestream_config()
    if args.output:
        write_private(Path(args.output), text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0


def _follow(args: argparse.Namespace) -> int:
    cfg = _one_database(args, "follow")
    stop = _stop_on_signals()
    with cfg.follow(args.path, interval=args.interval, stall_timeout=args.stall_timeout):
        logger.info("running until stopped by Ctrl-C or SIGTERM")
        _wait_for(stop)
    return 0


def _contents(args: argparse.Namespace) -> int:
    if args.command == "status":  # the name typed; ``args.job`` is the command's own name
        print(
            "pylts: `pylts status` is now `pylts contents` (what the replica holds); the old name will go away",
            file=sys.stderr,
        )
    dbs = _databases_from(args)
    listings = dbs.replica_contents()
    if args.json:
        if len(listings) == 1:
            print(listings[0].model_dump_json(indent=2))
        else:
            print(_CONTENTS_BY_DATABASE.dump_json(_by_path(dbs, listings), indent=2).decode())
        return 0
    codes = []
    for cfg, contents in zip(dbs.configs, listings, strict=True):
        if len(listings) > 1:
            print(f"{cfg.dbpath} at {cfg.s3}:")
        codes.append(_print_contents(contents))
        logger.info("replicating %s costs %s with these settings", cfg.db, cfg.idle_requests())
    return max(codes)


def _by_path(dbs: DatabaseSet[ConfigS3], listings: list[ReplicaContents]) -> dict[str, ReplicaContents]:
    return {str(cfg.dbpath): contents for cfg, contents in zip(dbs.configs, listings, strict=True)}


def _print_contents(contents: ReplicaContents) -> int:
    if contents.empty:
        print("the replica holds no backup yet")
        return EXIT_NO_BACKUP
    for note in contents.notes:
        print(note)
    if contents.latest is not None:
        print(f"latest backup written {contents.latest:%Y-%m-%dT%H:%M:%SZ} (litestream {contents.litestream_version})")
    if contents.continuity is not None:  # litestream 0.5: the proof a restore can rebuild every transaction
        print(contents.continuity.summary())
    for ltx in contents.ltx_files:
        print(
            f"ltx  level {ltx.level}  txid {ltx.min_txid}-{ltx.max_txid}  {ltx.size:>10,} B  "
            f"{ltx.timestamp:%Y-%m-%dT%H:%M:%SZ}"
        )
    for generation in contents.generations:
        print(
            f"generation {generation.generation}  {generation.start:%Y-%m-%dT%H:%M:%SZ} .. "
            f"{generation.end:%Y-%m-%dT%H:%M:%SZ}  lag {generation.lag}"
        )
    for snap in contents.snapshots:
        print(f"snapshot {snap.generation}/{snap.index}  {snap.size:>10,} B  {snap.created:%Y-%m-%dT%H:%M:%SZ}")
    return EXIT_FAILURE if contents.continuity is not None and not contents.continuity.proven else 0


def _points(args: argparse.Namespace) -> int:
    dbs = _databases_from(args)
    for cfg in dbs.configs:
        found = cfg.points()
        if args.json:
            print(found.model_dump_json(indent=2))
            continue
        if len(dbs.configs) > 1:
            print(f"{cfg.dbpath} at {cfg.s3}:")
        print_points(found)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    dbs = _databases_from(args)
    reports = []
    for cfg in dbs.configs:
        report = cfg.doctor(app_busy_timeout=args.app_busy_timeout, replicating=args.replicating)
        reports.append(report)
        if args.json:
            continue
        if len(dbs.configs) > 1:
            print(f"{cfg.dbpath}:")
        for check in report.checks:
            print(check.line())
    if args.json:
        shown = (
            reports[0].model_dump(mode="json") if len(reports) == 1 else [r.model_dump(mode="json") for r in reports]
        )
        print(json.dumps(shown, indent=2))
    return 0 if all(report.ok for report in reports) else EXIT_FAILURE


def _migrate(args: argparse.Namespace) -> int:
    report = _one_database(args, "migrate").migrate(to=args.to, dry_run=args.dry_run, timeout=args.timeout)
    print(report.detail)
    if report.migrated:
        rows = ", ".join(f"{table} {count}" for table, count in report.rows.items()) or "no tables"
        print(f"rows: {rows}; litestream {report.target_layout.value} txid {report.txid}")
    return 0


def _version(args: argparse.Namespace) -> int:
    """pylts' version, litestream's and the line that drives it; exit 1 when no line drives that litestream."""
    found = _settings_from(LitestreamSettings, args).locate()
    print(f"pylts {__version__}\nlitestream {found.version} at {found.path}")
    try:
        line = line_for(found)
    except UnsupportedLitestreamVersion as exc:
        print(f"line: none: {exc}")
        return EXIT_FAILURE
    print(f"line: {line.name} (layout {line.layout.value})")
    return 0


def main(argv: Sequence[str] | None = None, *, settings: Mapping[str, Any] | None = None) -> int:
    """Run the command line; return the exit code.

    ``settings`` are `ConfigS3` fields a framework supplies (e.g. Django's ``PYLTS``): they
    come before the environment and ``.env``; the command's own options come before them.
    """
    return run(parse(argv, version=__version__), settings=settings)


def run(args: argparse.Namespace, *, settings: Mapping[str, Any] | None = None) -> int:
    """Run a command `pylts.cli_parser.parse` returned, saying what it decides on stderr; return the exit code."""
    args.settings = dict(settings or {})
    try:
        args.level = verbosity_level(verbose=args.verbose, quiet=args.quiet, environ=os.environ)
    except InvalidSettings as exc:
        return _failed(exc, EXIT_USAGE)
    asked = bool(args.verbose or args.quiet or os.environ.get(LOG_LEVEL))
    with lifecycle_lines(args.level, sys.stderr, asked=asked):
        code = _run(args)
        if args.job in _LONG_RUNNING and code != EXIT_USAGE:  # a usage error is said in its one line
            logger.info("exit %s", code)
    return code


#: What each command does, by its name (`pylts.cli_parser` builds the command line without importing this module).
_JOBS: dict[str, Callable[[argparse.Namespace], int]] = {
    "restore": _restore,
    "replicate": _replicate,
    "verify": _verify,
    "config": _config,
    "contents": _contents,
    "points": _points,
    "doctor": _doctor,
    "follow": _follow,
    "migrate": _migrate,
    "version": _version,
}


def _run(args: argparse.Namespace) -> int:
    """The command, its errors turned into one line on stderr and an exit code."""
    try:
        code = _JOBS[args.job](args)
        sys.stdout.flush()  # a reader that went away is found here, not at exit
        return code
    except (_Usage, InvalidArgument, InvalidSettings, InvalidSettingsFile) as exc:
        return _failed(exc, EXIT_USAGE)
    except NoBackupFound as exc:
        return _failed(exc, EXIT_NO_BACKUP)
    except BootRefused as exc:
        return _failed(exc, EXIT_REFUSED)
    except (PyltsError, _Refused) as exc:
        return _failed(exc, EXIT_FAILURE)
    except BrokenPipeError:  # the reader of stdout is gone (`| head`): nothing more can be shown there
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130


def _failed(exc: BaseException, code: int) -> int:
    print(f"pylts: error: {exc}", file=sys.stderr)
    return code


def reference_markdown(transcript: str = "") -> str:
    """The CLI reference page of the docs, made from ``--help`` and a ``transcript`` of a real run.

    A test keeps docs/cli.md equal to it, and another that the transcript is what the code prints.
    """
    parser = build_parser(__version__)
    parts = [
        "# CLI reference",
        "",
        "Generated from `pylts --help` by `python3 tasks.py cli-docs`; a test keeps it current.",
        "",
    ]
    if transcript:
        parts += [
            "## What a run says",
            "",
            "Results go to stdout; what a command decides and does goes to stderr, one line each: `-q` leaves",
            "warnings and errors, `-v` adds each litestream command and line (or `PYLTS_LOG_LEVEL`). A real",
            "`pylts replicate --exec` with litestream killed once and the store down for a while, from",
            "`python3 tasks.py cli-transcript` (paths shortened; a test runs it again and checks each line):",
            "",
            "```text",
            transcript.rstrip(),
            "```",
            "",
        ]
    parts += ["```text", parser.format_help().rstrip(), "```", ""]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        if name != sub.prog.split()[-1]:
            continue  # an old name of a command documented under its new one
        parts += [f"## pylts {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def _is_secret(annotation: object) -> bool:
    """Whether a field's type is, or wraps, `SecretStr`.

    >>> from typing import Annotated
    >>> _is_secret(SecretStr | None), _is_secret(Annotated[SecretStr, "checked"] | None), _is_secret(str)
    (True, True, False)
    """
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _setting_options(model: type[PyltsSettings]) -> tuple[SettingOption, ...]:
    """An option for each non-secret field of ``model``: the key, the secret, a ping URL never go on a command line."""
    keyword_names = {field: keyword for keyword, field in model._KEYWORD_NAMES.items()}
    options: list[SettingOption] = []
    for name, field in model.model_fields.items():
        if _is_secret(field.annotation):
            continue
        names = [keyword_names[name], name] if name in keyword_names else [name]
        default = shown_default(field).replace("`", "")
        shown = f" (default {default})" if default not in ("none", "required") else ""
        options.append(
            (
                tuple("--" + n.replace("_", "-") for n in names),
                name,
                f"{setting_help(field)}{shown} [{field.validation_alias}]",
                field.annotation in (bool, bool | None),
            )
        )
    return tuple(options)


def settings_tables() -> dict[str, tuple[SettingOption, ...]]:
    """The settings options, from the models: what `pylts.cli_settings` holds while it is current."""
    return {
        "DATABASE": _setting_options(ConfigS3) + _setting_options(DatabaseList),
        "BINARY": _setting_options(LitestreamSettings),
    }


def settings_tables_source() -> str:
    """`pylts.cli_settings` as ``python3 tasks.py cli-docs`` writes it."""
    described = {
        "DATABASE": "the settings options of the commands that work on databases (`ConfigS3`, `DatabaseList`)",
        "BINARY": "the settings options of ``pylts version`` (`LitestreamSettings`)",
    }
    parts = [
        '"""The settings each ``pylts`` command takes as options, generated from the settings models.',
        "",
        "Written by ``python3 tasks.py cli-docs`` (`pylts.cli.settings_tables_source`), so that the command line",
        "is built without importing pydantic; tests/test_cli.py fails while it differs from the models.",
        '"""',
        "",
        "# ruff: noqa: E501  (each help is one line, as its field says it)",
        "",
        "#: An option's flags, the setting it sets, its help, and whether it is a flag (``--x``/``--no-x``).",
        "SettingOption = tuple[tuple[str, ...], str, str, bool]",
    ]
    for name, options in settings_tables().items():
        parts += ["", f"#: {described[name]}", f"{name}: tuple[SettingOption, ...] = ("]
        for flags, dest, help_text, is_flag in options:
            shown_flags = ", ".join(json.dumps(flag) for flag in flags) + ("," if len(flags) == 1 else "")
            parts += [
                "    (",
                f"        ({shown_flags}),",
                f"        {json.dumps(dest)},",
                f"        {json.dumps(help_text, ensure_ascii=False)},",
                f"        {is_flag},",
                "    ),",
            ]
        parts.append(")")
    return "\n".join(parts) + "\n"
