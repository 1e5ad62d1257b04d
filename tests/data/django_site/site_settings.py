"""Settings as a Django project writes them: the database path in DATABASES, the replica in PYLTS."""

import json
import os

SECRET_KEY = "test-only-not-for-production"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "pylts.integrations.django"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SITE_DATABASE"]}}
PYLTS = json.loads(os.environ.get("SITE_PYLTS", "{}"))  # credentials and the endpoint come from the environment
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
