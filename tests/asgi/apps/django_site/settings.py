"""Settings of the test Django project: no database, no installed apps, CSRF on."""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "tests.asgi.apps.django_site.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) are spooled to a file here.
FILE_UPLOAD_TEMP_DIR = os.environ.get("DJANGO_UPLOAD_DIR", tempfile.gettempdir())
# Where the streaming view waits for the test's go-ahead (a file appearing).
MARKERS_DIR = os.environ.get("ASGI_MARKERS", tempfile.gettempdir())
