"""pylts inside the frameworks apps run on: import the one you use.

| framework | import | what it does |
| --- | --- | --- |
| FastAPI, Starlette, any ASGI app | `pylts.integrations.asgi.lifespan` | restore, replicate while serving, final sync |
| Flask | `pylts.integrations.flask.Pylts` | restore when the app is created |
| gunicorn (any WSGI app) | `pylts.integrations.gunicorn` hooks | restore and replicate in the master process |
| Django | `"pylts.integrations.django"` in `INSTALLED_APPS` | restore before Django opens it; `manage.py pylts` |

None of them imports its framework at import time, so none adds a dependency: the framework
is the one your app already has.
"""
