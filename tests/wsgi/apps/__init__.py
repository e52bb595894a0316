"""WSGI applications the hosting tests run under ``barehttp wsgi``."""
