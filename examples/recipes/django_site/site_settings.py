"""Django settings: the database path comes from pylts, so it is the one that gets restored and replicated."""

from pylts import ConfigS3

PYLTS = ConfigS3()

SECRET_KEY = "recipe-only-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "notes.apps.NotesConfig"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": PYLTS.dbpath}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
