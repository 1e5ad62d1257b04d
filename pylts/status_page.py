"""One small read-only HTML page of what a running `Replicator` knows, and its metrics, over HTTP.

The page shows each database's health (as `Replicator.health` said it, and when), lag, last
sync, restore window and last check of the replica itself, and litestream's recent restarts.
It has no script and no external asset (inline CSS, a meta refresh every few seconds), and
everything printed into it is escaped.

- ``pylts replicate --status-port 9400`` (with ``--exec`` too) serves it on 127.0.0.1;
- `StatusServer` serves it from Python, `asgi_app` mounts it in an ASGI app (Starlette,
  FastAPI), `pylts.integrations.flask.status_blueprint` in a Flask app.

``GET /`` is the page, ``GET /metrics`` the Prometheus metrics (`pylts.metrics`, with
``pip install "pylts[metrics]"``), ``GET /health.json`` the same overview as JSON.

>>> from pathlib import Path
>>> from pylts.health import Failing
>>> from pylts.monitor import NOW, DatabaseOverview, Overview
>>> db = DatabaseOverview(health=Failing(path=Path("/srv/<app>.db"), error="403 Forbidden"), checked_at=NOW)
>>> page = render(Overview(checked_at=NOW, running=True, pid=7, restarts=0, last_error=None,
...                        recent_restarts=[], databases=[db]))
>>> "&lt;app&gt;.db" in page and "<app>" not in page
True
"""

from __future__ import annotations

import html
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .errors import InvalidArgument, MissingExtra
from .monitor import DatabaseOverview, Monitored, Overview, overview
from .timing import STATUS_REFRESH_SECONDS

__all__ = ["StatusServer", "asgi_app", "render", "respond"]

logger = logging.getLogger(__name__)

#: The address the page is bound to unless told otherwise: this machine only.
LOCALHOST = "127.0.0.1"

_COLOURS = {
    "caught_up": "#1a7f37",
    "behind": "#9a6700",
    "failing": "#cf222e",
    "restarting": "#bc4c00",
    "unknown": "#57606a",
}

_CSS = """
body{font:15px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em}
.when{color:#57606a;margin:0 0 1em}
table{border-collapse:collapse;width:100%;margin-bottom:1.2em}
th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.state{color:#fff;border-radius:1em;padding:.1em .7em;font-weight:600;white-space:nowrap}
.none{color:#57606a}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(moment: datetime | None) -> str:
    return "not known" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float | None, none: str = "not known") -> str:
    return none if value is None else f"{value:.1f} s"


def _row(db: DatabaseOverview) -> str:
    health = db.health
    colour = _COLOURS.get(db.state, "#57606a")
    badge = f'<span class="state" style="background:{colour}">{_e(db.state.replace("_", " "))}</span>'
    checked = db.replica_check
    if checked is None:
        check = window = '<span class="none">no check of the replica yet</span>'
    else:
        verdict = "whole" if checked.check.ok else f"problem: {checked.check.problem}"
        check = f"{_e(verdict)}<br><small>listed {_e(_time(checked.at))}</small>"
        if checked.check.earliest is None and checked.check.latest is None:
            window = '<span class="none">not known</span>'
        else:
            window = f"{_e(_time(checked.check.earliest))} to<br>{_e(_time(checked.check.latest))}"
    cells = [
        f"<b>{_e(db.name)}</b><br><small>{_e(health.path)}</small>",
        f"{badge}<br><small>{_e(db.summary)}</small>",
        _e(_seconds(health.behind_seconds, "nothing pending")),
        _e(_seconds(health.seconds_since_sync)),
        window,
        check,
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def render(seen: Overview, *, refresh: int = STATUS_REFRESH_SECONDS) -> str:
    """The page for ``seen``: one HTML document, inline CSS, no script, every value escaped."""
    rows = "".join(_row(db) for db in seen.databases)
    if seen.recent_restarts:
        restarts = "".join(
            f"<tr><td>{_e(_time(restart.at))}</td><td>{_e(restart.reason)}</td></tr>"
            for restart in reversed(seen.recent_restarts)
        )
        restarts = f"<table><tr><th>When</th><th>Why</th></tr>{restarts}</table>"
    else:
        restarts = '<p class="none">none since pylts started</p>'
    process = f"running (pid {seen.pid})" if seen.running else "not running"
    error = f"<p>Last error reported since pylts started: {_e(seen.last_error)}</p>" if seen.last_error else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{int(refresh)}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>pylts status</title><style>{_CSS}</style></head><body>"
        "<h1>pylts replication status</h1>"
        f'<p class="when">Health as the replicator reported it at {_e(_time(seen.checked_at))}; '
        f"litestream {_e(process)}, restarted {seen.restarts} time(s).</p>"
        "<table><tr><th>Database</th><th>Health</th><th>Lag</th><th>Since last sync</th>"
        "<th>Restore window</th><th>Last check of the replica</th></tr>"
        f"{rows}</table>{error}"
        f"<h2>Recent restarts of litestream</h2>{restarts}"
        "</body></html>\n"
    )


def respond(replicator: Monitored, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for ``GET path``: ``/`` the page, ``/metrics``, ``/health.json``."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/":
        return 200, "text/html; charset=utf-8", render(overview(replicator)).encode()
    if path == "/health.json":
        return 200, "application/json", overview(replicator).model_dump_json(indent=2).encode()
    if path == "/metrics":
        from .metrics import CONTENT_TYPE, metrics_registry, metrics_text

        try:
            return 200, CONTENT_TYPE, metrics_text(metrics_registry(replicator)).encode()
        except MissingExtra as exc:
            return 501, "text/plain; charset=utf-8", f"{exc}\n".encode()
    return 404, "text/plain; charset=utf-8", b"not found: the status page is at /, its metrics at /metrics\n"


def check_address(host: str, port: int) -> None:
    """Raise `InvalidArgument` unless ``host:port`` can be served now (checked before replication starts)."""
    if not 0 <= port < 65536:
        raise InvalidArgument(f"status port {port} is not a TCP port: give 1 to 65535 (or 0 for a free one)")
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise InvalidArgument(
            f"cannot serve the status page on {host}:{port}: {exc.strerror or exc}; "
            "choose another port (--status-port) or stop what listens there"
        ) from None


class StatusServer:
    """The status page and metrics of ``replicator`` over HTTP on ``host:port`` (127.0.0.1 unless told otherwise).

    A context manager: serves from a background thread inside the ``with`` block. ``port=0``
    takes a free port (``server.port`` says which). Read-only: anything but GET and HEAD gets 405.
    """

    def __init__(self, replicator: Monitored, port: int, host: str = LOCALHOST) -> None:
        if not 0 <= port < 65536:
            raise InvalidArgument(f"status port {port} is not a TCP port: give 1 to 65535 (or 0 for a free one)")
        self._replicator = replicator
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port served on (the one chosen when the server was given 0)."""
        return self._server.server_address[1] if self._server is not None else self._address[1]

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:9400/``."""
        return f"http://{self._address[0]}:{self.port}/"

    def start(self) -> StatusServer:
        replicator = self._replicator

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def _answer(self, *, body: bool) -> None:
                code, kind, content = respond(replicator, self.path)
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if body:
                    self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("status page: " + format, *args)

        try:
            self._server = ThreadingHTTPServer(self._address, Handler)
        except OSError as exc:
            raise InvalidArgument(
                f"cannot serve the status page on {self._address[0]}:{self._address[1]}: {exc.strerror}; "
                "choose another port (--status-port) or stop what listens there"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="pylts-status", daemon=True)
        self._thread.start()
        logger.info("status page at %s (metrics at %smetrics)", self.url, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def asgi_app(replicator: Monitored | None = None) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app serving the page (``/``), ``/metrics`` and ``/health.json``; mount it at any prefix.

    Without ``replicator`` it uses the one `pylts.integrations.asgi.lifespan` put in the app's
    state (``"pylts"``). The replicator is asked in a worker thread, so the event loop stays free.

        app = Starlette(lifespan=lifespan(cfg), routes=[Mount("/pylts", app=asgi_app())])
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, "text/plain; charset=utf-8", b"the status page is read-only: GET it\n")
            return
        chosen = replicator if replicator is not None else (scope.get("state") or {}).get("pylts")
        if chosen is None:
            body = b"no replicator: use pylts.integrations.asgi.lifespan, or give asgi_app(replicator)\n"
            await _send(send, 503, "text/plain; charset=utf-8", body)
            return
        try:
            import anyio.to_thread
        except ImportError:
            raise MissingExtra("pylts.status_page.asgi_app", "anyio", "starlette") from None
        path, root = scope.get("path", "/"), scope.get("root_path", "")
        if root and path.startswith(root):  # Starlette's Mount keeps the prefix in path and names it in root_path
            path = path[len(root) :]
        code, kind, content = await anyio.to_thread.run_sync(respond, chosen, path)
        await _send(send, code, kind, b"" if scope["method"] == "HEAD" else content)

    return app


async def _send(send: Send, code: int, kind: str, body: bytes) -> None:
    headers = [(b"content-type", kind.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
