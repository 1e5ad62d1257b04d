"""pylts: keep a SQLite database safe in S3-compatible storage with litestream.

>>> from pylts import ConfigS3
>>> ConfigS3(key="xxx", token="yyy", s3="s3://x/x.db")
ConfigS3(s3='s3://x/x.db', db='db.sqlite')
"""

import importlib
import logging
from typing import TYPE_CHECKING

from ._version import __version__ as __version__
from .errors import (
    AlreadyReplicating,
    BackupNotConfirmed,
    BootRefused,
    BucketNotFound,
    CommandNotRunnable,
    ControlSocketError,
    CredentialsRejected,
    DatabaseExists,
    DatabaseInvalid,
    DatabaseLocked,
    DatabaseNotFound,
    EncryptionKeyRequired,
    EndpointUnreachable,
    FinalSyncFailed,
    FollowTargetInUse,
    ForeignDatabase,
    InvalidArgument,
    InvalidSettings,
    InvalidSettingsFile,
    LitestreamError,
    LitestreamNotFound,
    LitestreamTimeout,
    MissingExtra,
    NoBackupFound,
    PyltsError,
    ReplicaLayoutMismatch,
    ReplicaMissing,
    ReplicationError,
    RestoreError,
    SecondarySnapshotFailed,
    StaleDatabase,
    TLSSetupError,
    UnreadableOutput,
    UnsupportedLitestreamVersion,
    VfsError,
    VfsUnavailable,
)

if TYPE_CHECKING:
    from .alerts import Alert, AlertWatcher
    from .boot import BootPolicy, BootReport, RestoreOutcome
    from .config import ConfigS3
    from .context import RunContext
    from .events import DatabaseSync
    from .follow import Follower, FollowStatus, connect_readonly
    from .health import Behind, CaughtUp, Failing, Restarting, Unknown
    from .layout import LtxFile
    from .migrate import MigrateReport
    from .monitor import ReplicationStatus
    from .reports import Generation, ReplicaContents, RestoreReport, Snapshot
    from .secondary import SecondarySnapshot
    from .settings_base import UnknownSettingWarning
    from .supervisor import ReplicatedDatabase, Replicator, run_app
    from .tuning import Tuning
    from .verify import VerifyResult
    from .vfs import VfsReader


# A library leaves logging to the application (docs/logging.md): without its own setup nothing is printed,
# not even warnings; logging.getLogger("pylts").setLevel(logging.INFO) turns pylts' messages on.
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Where each public name other than the errors lives: its module is imported when the name is first used, so
#: ``pylts --help`` or ``import pylts.errors`` does not load the supervisor, the HTTP clients or pydantic's models.
_HOMES = {
    "Alert": "alerts",
    "AlertWatcher": "alerts",
    "Behind": "health",
    "BootPolicy": "boot",
    "BootReport": "boot",
    "CaughtUp": "health",
    "ConfigS3": "config",
    "DatabaseSync": "events",
    "Failing": "health",
    "FollowStatus": "follow",
    "Follower": "follow",
    "Generation": "reports",
    "LtxFile": "layout",
    "MigrateReport": "migrate",
    "ReplicaContents": "reports",
    "ReplicatedDatabase": "supervisor",
    "ReplicationStatus": "monitor",
    "Replicator": "supervisor",
    "Restarting": "health",
    "RestoreOutcome": "boot",
    "RestoreReport": "reports",
    "RunContext": "context",
    "SecondarySnapshot": "secondary",
    "Snapshot": "reports",
    "Tuning": "tuning",
    "Unknown": "health",
    "UnknownSettingWarning": "settings_base",
    "VerifyResult": "verify",
    "VfsReader": "vfs",
    "connect_readonly": "follow",
    "run_app": "supervisor",
}


def __getattr__(name: str) -> object:
    """A public name, imported from its module at first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "Alert",
    "AlertWatcher",
    "AlreadyReplicating",
    "BackupNotConfirmed",
    "Behind",
    "BootPolicy",
    "BootRefused",
    "BootReport",
    "BucketNotFound",
    "CaughtUp",
    "CommandNotRunnable",
    "ConfigS3",
    "ControlSocketError",
    "CredentialsRejected",
    "DatabaseExists",
    "DatabaseInvalid",
    "DatabaseLocked",
    "DatabaseNotFound",
    "DatabaseSync",
    "EncryptionKeyRequired",
    "EndpointUnreachable",
    "Failing",
    "FinalSyncFailed",
    "FollowStatus",
    "FollowTargetInUse",
    "Follower",
    "ForeignDatabase",
    "Generation",
    "InvalidArgument",
    "InvalidSettings",
    "InvalidSettingsFile",
    "LitestreamError",
    "LitestreamNotFound",
    "LitestreamTimeout",
    "LtxFile",
    "MigrateReport",
    "MissingExtra",
    "NoBackupFound",
    "PyltsError",
    "ReplicaContents",
    "ReplicaLayoutMismatch",
    "ReplicaMissing",
    "ReplicatedDatabase",
    "ReplicationError",
    "ReplicationStatus",
    "Replicator",
    "Restarting",
    "RestoreError",
    "RestoreOutcome",
    "RestoreReport",
    "RunContext",
    "SecondarySnapshot",
    "SecondarySnapshotFailed",
    "Snapshot",
    "StaleDatabase",
    "TLSSetupError",
    "Tuning",
    "Unknown",
    "UnknownSettingWarning",
    "UnreadableOutput",
    "UnsupportedLitestreamVersion",
    "VerifyResult",
    "VfsError",
    "VfsReader",
    "VfsUnavailable",
    "connect_readonly",
    "run_app",
]
