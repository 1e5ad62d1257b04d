"""What every litestream run for one database needs, bound together.

A `RunContext` is made by `ConfigS3` and handed to the restore and backup code; it
carries its litestream `Line` (``ctx.line``), so what differs between litestream lines
is asked of the line, which works on it as a `pylts.lines.base.Context`. Its repr leaves
out the environment and secrets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import runner
from .deadline import Deadline
from .errors import EndpointUnreachable, ListingUnavailable, LitestreamError, LitestreamTimeout, RestoreError
from .failures import error_for
from .layout import ReplicaObjects, replica_prefix
from .output import OutputLine, RunResult, last_error
from .replica import S3Replica
from .runner import ManagedProcess
from .store import Credentials, list_objects
from .timing import LITESTREAM_STOP_GRACE, PROBE_SECONDS, REPROBE_SECONDS
from .tuning import Tuning

if TYPE_CHECKING:
    from .binary import Litestream
    from .lines.base import Line


@dataclass(frozen=True)
class RunContext:
    """A litestream line (and so its executable), one database, its replica, and the child environment."""

    line: Line
    db: Path
    replica: S3Replica
    env: dict[str, str] = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    tuning: Tuning = field(default_factory=Tuning)  # what the user tuned in litestream's config (pylts.tuning)
    #: The second destination's plan (``PYLTS_SECONDARY_URL``): store, credentials, environment (pylts.secondary).
    secondary: RunContext | None = field(default=None, repr=False)

    @property
    def litestream(self) -> Litestream:
        """The litestream executable the line drives."""
        return self.line.litestream

    def run(
        self,
        argv: Sequence[str],
        deadline: Deadline,
        *,
        failure: type[LitestreamError],
        action: str,
        error_lines_fail: bool = False,
    ) -> RunResult:
        """Run litestream to completion before ``deadline``; the only place that checks how a run ended.

        A non-zero exit (with ``error_lines_fail``, also an ERROR line: listings may exit 0
        when they fail) raises the error litestream's words name (else ``failure``), as
        ``"ACTION failed: ..."``, with the tail of both streams. On a timeout the store is
        asked again: if it no longer takes connections, that cause is raised
        (``EndpointUnreachable``) instead of the bare `LitestreamTimeout`.
        """
        result = self._run(argv, deadline)
        if result.returncode != 0 or (error_lines_fail and last_error(f"{result.stdout}\n{result.stderr}")):
            raise error_for(result, failure, action)
        return result

    def _run(self, argv: Sequence[str], deadline: Deadline) -> RunResult:
        try:
            return runner.run(argv, env=self.env, timeout=max(deadline.remaining(), 0.001), secrets=self.secrets)
        except LitestreamTimeout as timeout:
            try:
                self.probe(Deadline(REPROBE_SECONDS))
            except EndpointUnreachable as gone:
                raise EndpointUnreachable(
                    f"{gone} (it stopped answering while litestream was working)",
                    argv=timeout.argv,
                    output=timeout.output,
                ) from None
            raise

    def with_env(self, **variables: str) -> RunContext:
        """This context with ``variables`` added to the child's environment (for one kind of run)."""
        return dataclasses.replace(self, env={**self.env, **variables})

    def with_db(self, db: Path) -> RunContext:
        """This context for another database file (a stand-in), same replica."""
        return dataclasses.replace(self, db=db)

    def with_replica(self, replica: S3Replica) -> RunContext:
        """This context for another replica (a folder of the second destination), same store and credentials."""
        return dataclasses.replace(self, replica=replica)

    def process(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[OutputLine], None] | None = None,
        stop_grace: float = LITESTREAM_STOP_GRACE,
    ) -> ManagedProcess:
        """A long-running litestream (not started yet) with this context's environment."""
        return ManagedProcess(argv, env=self.env, secrets=self.secrets, on_line=on_line, stop_grace=stop_grace)

    def probe(self, deadline: Deadline) -> None:
        """Fail fast with `EndpointUnreachable` if the store takes no connections.

        litestream itself retries an unreachable endpoint for about two minutes
        before it says anything; this check answers in milliseconds.
        """
        host, port = self.replica.address()
        seconds = min(PROBE_SECONDS, max(deadline.remaining(), 0.001))
        try:
            socket.create_connection((host, port), timeout=seconds).close()
        except OSError as exc:
            reason = "no answer" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
            raise EndpointUnreachable(
                f"cannot connect to the S3 endpoint {host}:{port} ({reason} within {seconds:g} s); "
                "check REPLICA_ENDPOINT (or ?endpoint= in REPLICA_URL) and that the store is running"
            ) from None

    def replica_objects(
        self,
        deadline: Deadline,
        *,
        failure: type[LitestreamError] = RestoreError,
        after: str = "",
        limit: int | None = None,
    ) -> ReplicaObjects:
        """What the store holds under the replica's path, both layouts: one signed listing per 1,000 objects.

        ``after`` (a key relative to the replica's path) and ``limit`` list only the first ``limit``
        objects whose keys sort after it, as `pylts.store.list_objects` does.

        The store's own answer, not litestream's belief. It needs the access key and secret
        litestream gets (`ListingUnavailable` otherwise, as for a bucket whose region the store
        would not take, `pylts.store.list_objects`); a refusal the store names raises its
        typed error, else ``failure``.
        """
        credentials = Credentials.from_env(self.env)
        if credentials is None:
            raise ListingUnavailable(
                "pylts lists the replica itself and needs LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY "
                "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) in the environment: profiles and instance roles "
                "of the AWS credential chain are read by litestream only"
            )
        prefix = replica_prefix(self.replica.path)
        listed = list_objects(
            self.replica,
            credentials,
            prefix,
            deadline,
            env=self.env,
            failure=failure,
            after=after and prefix + after,
            limit=limit,
        )
        return ReplicaObjects.of(self.replica.path, listed)

    def store_answers(self, seconds: float) -> bool:
        """Whether the store answers within ``seconds``: a reply to an HTTP request, or a TLS handshake.

        Stricter than `probe`: a black hole on the way (a proxy, a dead load balancer)
        may accept connections and never answer.
        """
        host, port = self.replica.address()
        try:
            with socket.create_connection((host, port), timeout=seconds) as sock:
                if (self.replica.endpoint or "https:").startswith("https:"):
                    ssl.create_default_context().wrap_socket(sock, server_hostname=host).close()
                    return True
                sock.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                return bool(sock.recv(1))
        except ssl.SSLError:  # it answered, even if with a certificate this check does not trust
            return True
        except OSError:
            return False


_SHARED = threading.Lock()
_SHARED_USERS: dict[Path, tuple[int, bool]] = {}  # path -> (users now, remove after the last)


@contextlib.contextmanager
def shared_private_file(target: Path, text: str) -> Iterator[None]:
    """``text`` at ``target`` (owner-only) within the block; removed after its last user in this process,
    unless it was there before the first.

    One-shot runs of one database can overlap (a `verify` while the supervisor heals the replica):
    each needs the config beside the database until its litestream has read it, so one run's end
    must not remove it under another.
    """
    with _SHARED:
        users, remove = _SHARED_USERS.get(target, (0, not target.exists()))
        write_private(target, text)
        _SHARED_USERS[target] = (users + 1, remove)
    try:
        yield
    finally:
        with _SHARED:
            users, remove = _SHARED_USERS.pop(target)
            if users > 1:
                _SHARED_USERS[target] = (users - 1, remove)
            elif remove:
                target.unlink(missing_ok=True)


def write_private(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically, readable by its owner only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, target)
