"""The Django test application's WSGI entry point (``django_app:application``)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wsgi.apps.django_settings")

application = get_wsgi_application()
