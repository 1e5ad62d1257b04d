"""Every error pylts raises, under one base class, and which of them litestream's words name.

Catch `PyltsError` to handle anything pylts reports; catch a subclass to
react to one cause. Errors that come from a litestream run carry the redacted
command line, the exit code and litestream's own error text; `error_class` reads
the cause from that text, and `HINTS` says what to do about it.

>>> err = NoBackupFound("no backup at s3://bucket/db", argv=["litestream", "restore"], returncode=1)
>>> isinstance(err, LitestreamError), isinstance(err, PyltsError)
(True, True)
>>> err.returncode
1
"""

from __future__ import annotations

from collections.abc import Sequence


class PyltsError(Exception):
    """Base class of every error pylts raises."""


class InvalidArgument(PyltsError, ValueError):
    """A method was called with an argument it cannot use; nothing was changed."""


class InvalidSettingsFile(PyltsError, ValueError):
    """A line of the ``.env`` file cannot be read, so settings might be silently missing."""


class LitestreamNotFound(PyltsError):
    """No litestream executable was found where pylts looks for one."""


class CommandNotRunnable(PyltsError):
    """A command could not be started at all (missing, not executable)."""


class UnsupportedLitestreamVersion(PyltsError):
    """The litestream executable is a version pylts cannot drive."""


class DatabaseExists(PyltsError):
    """A restore would overwrite an existing database and was not asked to."""


class DatabaseNotFound(PyltsError, FileNotFoundError):
    """There is no database at the configured path."""


class DatabaseInvalid(PyltsError):
    """A file is not a usable SQLite database (or failed its integrity check)."""


class DatabaseLocked(PyltsError):
    """Another connection holds the database, so pylts cannot safely act on it."""


class LitestreamError(PyltsError):
    """A litestream run failed; carries the redacted argv, exit code and error text."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        output: str = "",
    ) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output


class EndpointUnreachable(LitestreamError):
    """The S3 endpoint did not accept a connection (found by pylts or reported by litestream)."""


class BackupNotConfirmed(LitestreamError):
    """The replica could not be shown to hold every committed transaction; nothing was deleted."""


class TLSSetupError(LitestreamError):
    """litestream or pylts' listing cannot load the CA bundle named (``AWS_CA_BUNDLE``, ``SSL_CERT_FILE``)."""


class LitestreamTimeout(LitestreamError):
    """litestream did not finish before its deadline and was stopped."""


class NoBackupFound(LitestreamError):
    """The replica holds no backup to restore from."""


class BucketNotFound(LitestreamError):
    """The bucket named in the replica URL does not exist."""


class CredentialsRejected(LitestreamError):
    """The S3 store refused the access key or secret."""


class EncryptionKeyRequired(LitestreamError):
    """The store refused to read a replica written with an SSE-C key: the key was not given."""


class RestoreError(LitestreamError):
    """litestream could not restore the database."""


class ReplicationError(LitestreamError):
    """litestream could not back up the database."""


class SecondarySnapshotFailed(ReplicationError):
    """A snapshot of the database to the second destination was not written, or its listing does not show it."""


class FinalSyncFailed(ReplicationError):
    """litestream stopped without its final sync reaching the replica (it exits 0 even then)."""

    #: Exit code of the app run under replication, when there was one.
    app_returncode: int | None = None


class UnreadableOutput(LitestreamError):
    """litestream printed something pylts cannot read (not the format this litestream line is known to print)."""


class BootRefused(PyltsError):
    """The local database and its replica disagree, so booting on either could lose data; nothing was changed.

    ``local_position`` and ``replica_position`` say what was seen on each side (a txid on
    litestream 0.5, a generation on 0.3). ``PYLTS_BOOT_POLICY`` (quarantine or adopt) turns the
    refusal into action.
    """

    def __init__(self, message: str, *, local_position: str | None = None, replica_position: str | None = None) -> None:
        super().__init__(message)
        self.local_position = local_position
        self.replica_position = replica_position


class StaleDatabase(BootRefused):
    """The local database is behind its replica (a stale volume): booting on it would roll the replica back."""


class ForeignDatabase(BootRefused):
    """The local database is not from its replica's history (never replicated here, or another generation)."""


class ReplicaMissing(BootRefused):
    """The replica is empty although the local database was replicated before.

    REPLICA_URL changed or the bucket was emptied.
    """


class ReplicaLayoutMismatch(BootRefused):
    """The replica holds files in another litestream line's layout, which the running line must not ignore.

    ``layout`` names the layout found (``"0.3"``: ``generations/``; ``"0.5"``: LTX levels). The message
    says what to run: ``pylts migrate`` (0.3 files under litestream 0.5), or litestream 0.5
    (0.5 files under litestream 0.3, which cannot read them). Nothing was changed.
    """

    def __init__(
        self,
        message: str,
        *,
        layout: str,
        local_position: str | None = None,
        replica_position: str | None = None,
    ) -> None:
        super().__init__(message, local_position=local_position, replica_position=replica_position)
        self.layout = layout


class AlreadyReplicating(PyltsError):
    """Another process on this machine already replicates the database; ``pid`` names it when known."""

    def __init__(self, message: str, *, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class FollowTargetInUse(AlreadyReplicating):
    """The path to follow into is a database that another process on this machine replicates or follows."""


class ListingUnavailable(PyltsError):
    """pylts cannot list the replica itself; litestream can (callers fall back to ``litestream ltx``).

    No access key and secret in the environment litestream gets (the AWS credential chain's
    profiles and instance roles are read by litestream alone), or an AWS bucket outside
    ``us-east-1`` with no region set whose region the store did not accept.
    """


class ControlSocketError(PyltsError):
    """litestream's control socket did not answer in time, or answered with an error.

    The supervisor handles it (the state becomes unknown): it never reaches a caller.
    """


class VfsUnavailable(PyltsError):
    """litestream's VFS cannot run here; the message says what to install (`install_line`)."""


class MissingExtra(PyltsError, ImportError):
    """An optional dependency is not installed; the message is the pip line that installs it (`install_line`).

    >>> str(MissingExtra("LocalS3", "moto", "testing")).startswith('LocalS3 needs moto: pip install "pylts[testing]>=')
    True
    """

    def __init__(self, needed_by: str, module: str, extra: str) -> None:
        super().__init__(f"{needed_by} needs {module}: {install_line(extra)}", name=module)
        self.needed_by, self.extra = needed_by, extra

    def __reduce__(self) -> tuple[type[MissingExtra], tuple[str, str, str]]:
        """Pickled by its arguments (a worker process can raise it to its parent)."""
        return type(self), (self.needed_by, self.name or "", self.extra)


def install_line(extra: str) -> str:
    """The pip line that adds ``extra`` to the pylts running, pinned so that pip never picks an older pylts.

    The package index holds an older, unrelated pylts 0.0.9, which pip would install in a
    fresh environment for a requirement without a version.
    """
    from importlib import metadata  # only here: importing it costs every ``import pylts`` about 15 ms

    try:
        version = metadata.version("pylts")
    except metadata.PackageNotFoundError:  # imported from a checkout that was never installed
        return f'pip install -e ".[{extra}]" (in the pylts checkout)'
    return f'pip install "pylts[{extra}]>={version}"'


class VfsError(PyltsError):
    """Reading the replica through litestream's VFS failed (the helper could not open it, or a query failed)."""


class InvalidSettings(PyltsError, ValueError):
    """Settings could not be built; each problem names its setting, never the value given."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        listed = "; ".join(f"{setting}: {message}" for setting, message in self.problems)
        super().__init__(f"invalid settings: {listed}")


class OutsideRestoreWindow(InvalidArgument):
    """The point asked for is outside what the replica can restore (``earliest`` to ``latest``); nothing was done."""


class PointsUnavailable(PyltsError):
    """The replica holds litestream 0.3's generations only: no transaction ids, so no restore points to list."""


# -- which error litestream's words name ------------------------------------------------------

#: Text litestream prints for a cause pylts can name, most specific first.
_CAUSES: tuple[tuple[str, type[LitestreamError]], ...] = (
    ("NoSuchBucket", BucketNotFound),
    ("stored using a form of Server Side Encryption", EncryptionKeyRequired),  # S3's answer to a read with no key
    ("InvalidAccessKeyId", CredentialsRejected),
    ("SignatureDoesNotMatch", CredentialsRejected),
    ("AccessDenied", CredentialsRejected),
    ("no EC2 IMDS role found", CredentialsRejected),
    ("failed to refresh cached credentials", CredentialsRejected),
    ("LoadCustomCABundleError", TLSSetupError),
    ("custom RootCAs", TLSSetupError),
    ("no matching backup", NoBackupFound),
    ("timestamp does not exist", NoBackupFound),
    ("no snapshots available", NoBackupFound),
    ("no generation", NoBackupFound),
    ("connection refused", EndpointUnreachable),
    ("no such host", EndpointUnreachable),
    ("i/o timeout", EndpointUnreachable),
)

#: What to do about each named cause.
HINTS: dict[type[LitestreamError], str] = {
    BucketNotFound: "create the bucket, or fix the bucket name in REPLICA_URL",
    EncryptionKeyRequired: (
        "the replica is encrypted with an SSE-C key: set PYLTS_SSE_CUSTOMER_KEY to the key it was written with"
    ),
    CredentialsRejected: "check LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY for this store",
    NoBackupFound: "nothing has been replicated to this REPLICA_URL yet; check the URL or back up first",
    EndpointUnreachable: "check the endpoint (REPLICA_ENDPOINT or ?endpoint=) and that the store is running",
    TLSSetupError: (
        "AWS_CA_BUNDLE or SSL_CERT_FILE names a file litestream cannot load: point it at a PEM bundle or unset it"
    ),
}


def error_class(text: str) -> type[LitestreamError] | None:
    """The specific error a piece of litestream output means, or ``None`` if none is known.

    >>> error_class("Error: no matching backup files available").__name__
    'NoBackupFound'
    """
    for needle, cls in _CAUSES:
        if needle.lower() in text.lower():
            return cls
    return None
