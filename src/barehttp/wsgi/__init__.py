"""WSGI hosting (PEP 3333): run any WSGI application on the barehttp server."""

from barehttp.wsgi.adapter import WSGIHandler
from barehttp.wsgi.serve import serve_wsgi

__all__ = ["WSGIHandler", "serve_wsgi"]
