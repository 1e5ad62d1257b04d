"""Django settings of the recipe site: pylts is one entry of INSTALLED_APPS and one PYLTS setting."""

import os
from pathlib import Path

DATA = Path(os.environ.get("SITE_DATA", Path(__file__).resolve().parent / "data"))  # a volume in production

SECRET_KEY = "recipe-only-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pylts.integrations.django"]
DATABASES = {  # both are SQLite, so both are restored at startup and replicated by `manage.py pylts replicate`
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA / "db.sqlite3"},
    "queue": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATA / "queue.sqlite3"},
}
# The replica of "default"; "queue" goes beside it (.../queue.sqlite3). Credentials stay in the environment.
PYLTS = {"s3": os.environ.get("SITE_REPLICA_URL", "s3://my-backups/site/db.sqlite3")}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
