"""A Flask extension: the database is restored when the app is created, before anything opens it.

    from flask import Flask
    from pylts.integrations.flask import Pylts

    pylts = Pylts()

    def create_app() -> Flask:
        app = Flask(__name__)
        pylts.init_app(app)
        return app

Settings come from ``app.config["PYLTS"]`` (a dict of `ConfigS3` fields) when present, else
from the environment and ``.env``. Replication runs around the server, which is where a
process manager sends its signals: ``pylts replicate --exec "gunicorn 'app:create_app()'"``
(or the gunicorn hooks in `pylts.integrations.gunicorn`). Flask has no shutdown hook of its
own, so an extension cannot promise the final sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..boot import BootReport
from ..config import ConfigS3

if TYPE_CHECKING:
    from flask import Blueprint, Flask

    from ..monitor import Monitored


class Pylts:
    """Restores the app's database in ``init_app``; ``app.extensions["pylts"]`` is this extension.

    After ``init_app``, ``config`` is the `ConfigS3` in use (``config.dbpath`` is the file to
    open) and ``boot`` what `ConfigS3.ensure_restored` decided (restored, existing, fresh...).
    """

    def __init__(self, app: Flask | None = None, cfg: ConfigS3 | None = None) -> None:
        self._cfg = cfg
        self._boot: BootReport | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Restore the database if needed, before the app opens it."""
        if self._cfg is None:
            self._cfg = ConfigS3.load(**dict(app.config.get("PYLTS") or {}))
        self._boot = self._cfg.ensure_restored()
        app.extensions["pylts"] = self

    @property
    def config(self) -> ConfigS3:
        """The settings in use (from ``init_app`` on)."""
        if self._cfg is None:
            raise RuntimeError("call Pylts.init_app(app) first")
        return self._cfg

    @property
    def boot(self) -> BootReport:
        """What the boot decided for this app's database (from ``init_app`` on)."""
        if self._boot is None:
            raise RuntimeError("call Pylts.init_app(app) first")
        return self._boot


def status_blueprint(replicator: Monitored, name: str = "pylts_status") -> Blueprint:
    """A blueprint of the status page of ``replicator`` (`pylts.status_page`): ``/``, ``/metrics``, ``/health.json``.

    Register it under a prefix; the replicator runs in the same process (a `pylts.Replicator` the app started):

        app.register_blueprint(status_blueprint(replicator), url_prefix="/pylts")
    """
    from flask import Blueprint, Response

    from ..status_page import respond

    blueprint = Blueprint(name, __name__)

    def page(path: str = "") -> Response:
        code, kind, body = respond(replicator, "/" + path)
        return Response(body, status=code, content_type=kind, headers={"Cache-Control": "no-store"})

    blueprint.add_url_rule("/", "page", page, methods=["GET"])
    blueprint.add_url_rule("/<path:path>", "part", page, methods=["GET"])
    return blueprint
