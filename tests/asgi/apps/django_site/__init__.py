"""A minimal, ordinary Django project (no database) for the ``barehttp asgi`` tests."""
