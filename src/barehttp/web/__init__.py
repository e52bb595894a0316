"""Web layer: request/response objects, router, static files, cookies, forms."""
