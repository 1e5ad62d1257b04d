"""Flask: the extension restores in the app factory; replication runs around the server.

    pylts replicate --exec "gunicorn 'flask_app:create_app()'"
    gunicorn -c python:pylts.integrations.gunicorn 'flask_app:create_app()'

Run directly (`python flask_app.py`) it replicates around Flask's development server.
"""

import sqlite3
from contextlib import closing

from flask import Flask, request

from pylts import ConfigS3
from pylts.integrations.flask import Pylts


def create_app() -> Flask:
    app = Flask(__name__)
    cfg = Pylts(app).config  # restored (if missing) before anything opens the database
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")

    @app.post("/notes")
    def add_note() -> dict[str, int]:
        with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn, conn:
            note_id = conn.execute("INSERT INTO notes (body) VALUES (?)", (request.args["body"],)).lastrowid
        return {"id": note_id or 0}

    @app.get("/notes")
    def list_notes() -> list[str]:
        with closing(sqlite3.connect(cfg.dbpath, timeout=5)) as conn:
            return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")]

    return app


if __name__ == "__main__":
    with ConfigS3().replicating():
        create_app().run()
