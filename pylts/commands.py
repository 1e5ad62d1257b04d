"""Pure builders of litestream command lines, child environments and config files.

Nothing here runs anything, so each builder is tested without the binary.
Secrets never appear in argv or config: they reach litestream only through
the environment `child_env` builds.

What differs between litestream lines (``replicate`` and ``restore`` argv, the shape of a
config) is built by each `pylts.lines.Line`; this module holds what both share.

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.lines import line_for
>>> from pylts.replica import parse_replica_url
>>> line = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))
>>> print(config_yaml(line, {Path("/data/app.db"): parse_replica_url("s3://bkt/app.db")}), end="")
dbs:
  - path: "/data/app.db"
    replica:
      type: "s3"
      bucket: "bkt"
      path: "app.db"
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .errors import InvalidSettings
from .lines.base import check_encryption
from .replica import SSE_CUSTOMER_KEY_PLACEHOLDER, SSE_CUSTOMER_KEY_VARIABLE, S3Replica
from .tuning import Tuning

if TYPE_CHECKING:
    from .lines.base import Line

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


def config_option(path: Path, *, expand: bool = False) -> list[str]:
    """``-config PATH`` for a config pylts wrote, its ``$`` taken literally unless ``expand``.

    litestream expands ``$VAR`` and ``${VAR}`` in a config file unless told not to, so a
    database folder named ``/srv/$HOME`` would silently point it elsewhere. pylts' own
    configs hold one placeholder only, the SSE-C key's (credentials travel in the environment,
    where litestream looks for them; it reads the SSE-C key from its config only): a config
    that names it is read with ``expand``, and `config_yaml` makes sure it holds no other ``$``.

    >>> config_option(Path("/srv/$HOME/.app.db-pylts.yml"))
    ['-config', '/srv/$HOME/.app.db-pylts.yml', '-no-expand-env']
    """
    return ["-config", str(path), *([] if expand else ["-no-expand-env"])]


def expands(dbs: Mapping[Path, S3Replica] | Sequence[S3Replica]) -> bool:
    """Whether litestream must expand variables in the config of these replicas (one names the SSE-C key)."""
    replicas = dbs.values() if isinstance(dbs, Mapping) else dbs
    return any(replica.sse_customer_key for replica in replicas)


def config_yaml(
    line: Line,
    dbs: Mapping[Path, S3Replica],
    *,
    log_level: str | None = None,
    shutdown_sync_timeout: float | None = None,
    credential_placeholders: bool = False,
    tuning: Tuning | None = None,
) -> str:
    """A config ``line`` reads for ``dbs`` (database path to replica), with no secret in it.

    Values are written as JSON strings, which YAML reads as they are. With
    ``credential_placeholders`` each replica names ``${LITESTREAM_ACCESS_KEY_ID}`` and
    ``${LITESTREAM_SECRET_ACCESS_KEY}``, and a heartbeat URL is ``${PYLTS_HEARTBEAT_URL}``: litestream
    fills them in from its environment.
    ``tuning`` (`pylts.tuning`) adds the keys ``line`` has for it; a setting it lacks raises `InvalidSettings`.
    A replica with an SSE-C key names ``${PYLTS_SSE_CUSTOMER_KEY}`` (never the key): litestream must then
    expand the config, so any other ``$`` in it (a folder named ``$HOME``) raises `InvalidSettings`.
    """
    tuning = tuning or Tuning()
    line.check_tuning(tuning)
    for replica in dbs.values():
        check_encryption(line, replica)
    if credential_placeholders and tuning.heartbeat_url is not None:
        tuning = dataclasses.replace(tuning, heartbeat_url=SecretStr(HEARTBEAT_URL_PLACEHOLDER))
    lines = ["logging:", f"  level: {json.dumps(log_level)}"] if log_level else []
    lines += line.config_settings(shutdown_sync_timeout=shutdown_sync_timeout, tuning=tuning)
    lines.append("dbs:")
    extra = _CREDENTIAL_PLACEHOLDERS if credential_placeholders else {}
    for db, replica in dbs.items():
        lines.append(f"  - path: {json.dumps(str(db))}")
        lines.extend(line.database_yaml(replica, extra, tuning))
    text = "\n".join(lines) + "\n"
    if expands(dbs) and not credential_placeholders:
        _check_expandable(text)
    return text


def _check_expandable(text: str) -> None:
    """Refuse a config litestream will expand that holds a ``$`` other than pylts' placeholders."""
    rest = text.replace(SSE_CUSTOMER_KEY_PLACEHOLDER, "")
    if "$" in rest:
        shown = next(line.strip() for line in rest.splitlines() if "$" in line)
        raise InvalidSettings(
            [
                (
                    SSE_CUSTOMER_KEY_VARIABLE,
                    f"litestream reads the SSE-C key from a config it expands ($VARIABLES filled in), and that "
                    f"config would hold a '$' of its own ({shown}): move the database to a folder without '$'",
                )
            ]
        )


#: How a config for users names the heartbeat URL: a ping URL is its monitor's credential.
HEARTBEAT_URL_PLACEHOLDER = "${PYLTS_HEARTBEAT_URL}"
_CREDENTIAL_PLACEHOLDERS = {
    "access-key-id": "${LITESTREAM_ACCESS_KEY_ID}",
    "secret-access-key": "${LITESTREAM_SECRET_ACCESS_KEY}",
}


def yaml_mapping(entry: Mapping[str, str | bool | int], *, first: str, rest: str) -> list[str]:
    """``entry`` as YAML lines, the first prefixed with ``first`` and the others with ``rest``.

    >>> yaml_mapping({"type": "s3", "bucket": "bkt"}, first="  - ", rest="    ")
    ['  - type: "s3"', '    bucket: "bkt"']
    """
    return [f"{first if i == 0 else rest}{key}: {json.dumps(value)}" for i, (key, value) in enumerate(entry.items())]


def child_env(
    parent: Mapping[str, str],
    line: Line,
    *,
    credentials: tuple[str, str] | None,
) -> dict[str, str]:
    """The environment litestream runs with.

    With ``credentials`` (key, secret), every other AWS credential variable is
    dropped, so a stray ``AWS_*`` in the parent cannot override them, and the
    EC2 metadata service is disabled. With ``None`` (the default AWS credential
    chain) the parent's variables pass through. Then ``line`` adjusts what it cannot
    take as it is (litestream 0.5 gets ``AWS_CA_BUNDLE`` as ``SSL_CERT_FILE``).

    >>> from pylts.lines import line_for
    >>> line = line_for(Litestream(Path("x"), Version(0, 5, 17)))
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
    line.adjust_env(env)
    return env
