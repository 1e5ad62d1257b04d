"""Flask: restore in the app factory; replicate around the server with `pylts replicate --exec`.

    pylts replicate --exec "gunicorn 'flask_app:create_app()'"

Run directly (`python flask_app.py`) it replicates around Flask's development server.
"""

import sqlite3
from contextlib import closing

from flask import Flask, request

from pylts import ConfigS3


def create_app() -> Flask:
    cfg = ConfigS3()
    cfg.ensure_restored()  # before anything opens the database
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    app = Flask(__name__)

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
