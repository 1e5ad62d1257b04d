"""pylts: keep a SQLite database safe in S3-compatible storage with litestream.

>>> from pylts import ConfigS3
>>> ConfigS3(key="xxx", token="yyy", s3="s3://x/x.db")
ConfigS3(s3='s3://x/x.db', db='db.sqlite')
"""

from loguru import logger

from .errors import (
    BackupNotConfirmed,
    BucketNotFound,
    CredentialsRejected,
    DatabaseExists,
    DatabaseInvalid,
    DatabaseLocked,
    DatabaseNotFound,
    EndpointUnreachable,
    InvalidArgument,
    LitestreamError,
    LitestreamNotFound,
    LitestreamTimeout,
    NoBackupFound,
    PyltsError,
    ReplicationError,
    RestoreError,
    TLSSetupError,
    UnsupportedLitestreamVersion,
)
from .settings import ConfigS3

__version__ = "0.1.0"

# A library stays quiet until the application opts in: logger.enable("pylts").
logger.disable("pylts")

__all__ = [
    "BackupNotConfirmed",
    "BucketNotFound",
    "ConfigS3",
    "CredentialsRejected",
    "DatabaseExists",
    "DatabaseInvalid",
    "DatabaseLocked",
    "DatabaseNotFound",
    "EndpointUnreachable",
    "InvalidArgument",
    "LitestreamError",
    "LitestreamNotFound",
    "LitestreamTimeout",
    "NoBackupFound",
    "PyltsError",
    "ReplicationError",
    "RestoreError",
    "TLSSetupError",
    "UnsupportedLitestreamVersion",
]
