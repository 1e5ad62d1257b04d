"""Pure builders of litestream command lines, child environments and config files.

Nothing here runs anything, so each builder is tested without the binary.
Secrets never appear in argv or config: they reach litestream only through
the environment `child_env` builds.

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.replica import parse_replica_url
>>> ls = Litestream(Path("/bin/litestream"), Version(0, 5, 17))
>>> replica = parse_replica_url("s3://bkt/app.db?endpoint=http://127.0.0.1:9000")
>>> replicate_argv(ls, Path("/data/app.db"), replica, once=True)
['/bin/litestream', 'replicate', '-once', '/data/app.db', 's3://bkt/app.db?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from .binary import Litestream, Version
from .replica import S3Replica
from .sqlite_files import config_path_for
from .tuning import Tuning, database_keys, replica_keys, require_supported, top_level_lines

logger = logging.getLogger(__name__)

#: Variables through which the AWS SDK inside litestream could pick up other credentials.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "LITESTREAM_ACCESS_KEY_ID",
    "LITESTREAM_SECRET_ACCESS_KEY",
)
#: The first litestream with follow mode (``restore -f``).
FOLLOW_SINCE = Version(0, 5, 9)


def config_option(path: Path) -> list[str]:
    """``-config PATH`` for a config pylts wrote, its ``$`` taken literally.

    litestream expands ``$VAR`` and ``${VAR}`` in a config file unless told not to, so a
    database folder named ``/srv/$HOME`` would silently point it elsewhere. pylts' own
    configs hold no placeholders (credentials travel in the environment).

    >>> config_option(Path("/srv/$HOME/.app.db-pylts.yml"))
    ['-config', '/srv/$HOME/.app.db-pylts.yml', '-no-expand-env']
    """
    return ["-config", str(path), "-no-expand-env"]


def replicate_argv(ls: Litestream, db: Path, replica: S3Replica, *, once: bool = False) -> list[str]:
    """``litestream replicate`` for one database.

    litestream 0.3 ignores the URL query, so it reads everything from the config
    file `config_yaml` renders (written at `config_path_for`).

    >>> replicate_argv(Litestream(Path("/bin/litestream"), Version(0, 3, 13)), Path("/data/app.db"), parse_replica_url("s3://bkt/app.db"))
    ['/bin/litestream', 'replicate', '-config', '/data/.app.db-pylts.yml', '-no-expand-env']
    """
    if ls.is_legacy:  # no -once on 0.3: its callers follow the log instead (see pylts.backup)
        return [str(ls.path), "replicate", *config_option(config_path_for(db))]
    return [str(ls.path), "replicate", *(["-once"] if once else []), str(db), replica.url()]


def restore_argv(
    ls: Litestream,
    db: Path,
    replica: S3Replica,
    output: Path,
    *,
    timestamp: str | None = None,
    txid: str | None = None,
) -> list[str]:
    """``litestream restore`` of the replica of ``db`` into ``output`` (latest, or as of a point).

    >>> line = Litestream(Path("/bin/litestream"), Version(0, 5, 17))
    >>> replica = parse_replica_url("s3://bkt/a.db")
    >>> restore_argv(line, Path("/d/a.db"), replica, Path("/d/tmp/a.db"), txid="0000000000000002")
    ['/bin/litestream', 'restore', '-json', '-txid', '0000000000000002', '-o', '/d/tmp/a.db', 's3://bkt/a.db']
    """
    point = [*(["-timestamp", timestamp] if timestamp else []), *(["-txid", txid] if txid else [])]
    if ls.is_legacy:  # no txid on 0.3: restore() refuses one before anything runs
        return [str(ls.path), "restore", *config_option(config_path_for(db)), *point, "-o", str(output), str(db)]
    return [str(ls.path), "restore", "-json", *point, "-o", str(output), replica.url()]


def follow_argv(ls: Litestream, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
    """``litestream restore -f``: restore the replica into ``output``, then keep applying its changes (0.5.9+).

    >>> follow_argv(Litestream(Path("/bin/litestream"), Version(0, 5, 17)), parse_replica_url("s3://bkt/a.db"),
    ...             Path("/d/.a.db-pylts-follow/run-1/a.db"), interval=0.5)
    ['/bin/litestream', 'restore', '-f', '-follow-interval', '500ms', '-o', '/d/.a.db-pylts-follow/run-1/a.db', 's3://bkt/a.db']
    """
    if ls.version < FOLLOW_SINCE:
        raise ValueError(f"litestream {ls.version} cannot follow a replica: restore -f came in {FOLLOW_SINCE}")
    milliseconds = max(round(interval * 1000), 1)
    return [str(ls.path), "restore", "-f", "-follow-interval", f"{milliseconds}ms", "-o", str(output), replica.url()]


def ltx_argv(ls: Litestream, replica: S3Replica) -> list[str]:
    """``litestream ltx``: the LTX files a 0.5 replica holds, at every compaction level, as JSON.

    Without ``-level all`` only level 0 is listed, which compaction empties within minutes.
    """
    return [str(ls.path), "ltx", "-json", "-level", "all", replica.url()]


def config_yaml(
    ls: Litestream,
    dbs: Mapping[Path, S3Replica],
    *,
    log_level: str | None = None,
    shutdown_sync_timeout: float | None = None,
    credential_placeholders: bool = False,
    tuning: Tuning | None = None,
) -> str:
    """A litestream config for ``dbs`` (database path to replica), with no secret in it.

    Values are written as JSON strings, which YAML reads as they are. With
    ``credential_placeholders`` each replica names ``${LITESTREAM_ACCESS_KEY_ID}`` and
    ``${LITESTREAM_SECRET_ACCESS_KEY}``, which litestream fills in from its environment.
    ``tuning`` adds the keys of `pylts.tuning`; one the line lacks raises `InvalidSettings`.

    >>> print(config_yaml(Litestream(Path("/bin/litestream"), Version(0, 3, 13)), {Path("/d/a.db"): parse_replica_url("s3://bkt/a.db")}))
    dbs:
      - path: "/d/a.db"
        replicas:
          - type: "s3"
            bucket: "bkt"
            path: "a.db"
    <BLANKLINE>
    """
    lines = []
    if log_level:
        lines += ["logging:", f"  level: {json.dumps(log_level)}"]
    if shutdown_sync_timeout is not None and not ls.is_legacy:
        lines.append(f"shutdown-sync-timeout: {json.dumps(f'{shutdown_sync_timeout:g}s')}")
    tuning = tuning or Tuning()
    require_supported(tuning, legacy=ls.is_legacy, version=ls.version)
    lines += top_level_lines(tuning, legacy=ls.is_legacy)
    lines.append("dbs:")
    for db, replica in dbs.items():
        lines.append(f"  - path: {json.dumps(str(db))}")
        lines.extend(_mapping(database_keys(tuning, legacy=ls.is_legacy), first="    ", rest="    "))
        entry = {**replica.config_entry(legacy=ls.is_legacy), **replica_keys(tuning, legacy=ls.is_legacy)}
        if credential_placeholders:
            entry.update(
                {"access-key-id": "${LITESTREAM_ACCESS_KEY_ID}", "secret-access-key": "${LITESTREAM_SECRET_ACCESS_KEY}"}
            )
        if ls.is_legacy:
            lines.append("    replicas:")
            lines.extend(_mapping(entry, first="      - ", rest="        "))
        else:
            lines.append("    replica:")
            lines.extend(_mapping(entry, first="      ", rest="      "))
    return "\n".join(lines) + "\n"


def _mapping(entry: Mapping[str, str | bool | int], *, first: str, rest: str) -> list[str]:
    return [f"{first if i == 0 else rest}{key}: {json.dumps(value)}" for i, (key, value) in enumerate(entry.items())]


def child_env(
    parent: Mapping[str, str],
    ls: Litestream,
    *,
    credentials: tuple[str, str] | None,
) -> dict[str, str]:
    """The environment litestream runs with.

    With ``credentials`` (key, secret), every other AWS credential variable is
    dropped, so a stray ``AWS_*`` in the parent cannot override them, and the
    EC2 metadata service is disabled. With ``None`` (the default AWS credential
    chain) the parent's variables pass through. litestream 0.5 exits at once when
    ``AWS_CA_BUNDLE`` is set, so for 0.5 it is handed over as ``SSL_CERT_FILE``.

    >>> line = Litestream(Path("x"), Version(0, 5, 17))
    >>> env = child_env({"AWS_ACCESS_KEY_ID": "stray", "HOME": "/root"}, line, credentials=("k", "s"))
    >>> env["AWS_ACCESS_KEY_ID"], env["AWS_EC2_METADATA_DISABLED"], env["HOME"]
    ('k', 'true', '/root')
    """
    env = dict(parent)
    if credentials is not None:
        for name in CREDENTIAL_VARIABLES:
            env.pop(name, None)
        key, secret = credentials
        env.update(
            AWS_ACCESS_KEY_ID=key,
            AWS_SECRET_ACCESS_KEY=secret,
            LITESTREAM_ACCESS_KEY_ID=key,
            LITESTREAM_SECRET_ACCESS_KEY=secret,
            AWS_EC2_METADATA_DISABLED="true",
        )
    bundle = env.get("AWS_CA_BUNDLE")
    if bundle and not ls.is_legacy:
        del env["AWS_CA_BUNDLE"]
        env.setdefault("SSL_CERT_FILE", bundle)
        logger.warning(
            "AWS_CA_BUNDLE is set; litestream %s cannot load it, so it gets SSL_CERT_FILE=%s instead",
            ls.version,
            env["SSL_CERT_FILE"],
        )
    return env
