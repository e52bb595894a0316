"""Web layer: request/response objects, router, static files, cookies, forms."""

from barehttp.web.app import App
from barehttp.web.errors import MethodNotAllowed, NotFound, UnsupportedMediaType
from barehttp.web.file_response import FileResponse, serve_file
from barehttp.web.forms import MultiDict
from barehttp.web.request import Request
from barehttp.web.response import HTMLResponse, JSONResponse, RedirectResponse, Response
from barehttp.web.router import Match, Router
from barehttp.web.static import StaticFiles
from barehttp.web.websocket import WebSocket, WebSocketClosed

__all__ = [
    "App",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "Match",
    "MethodNotAllowed",
    "MultiDict",
    "NotFound",
    "RedirectResponse",
    "Request",
    "Response",
    "Router",
    "StaticFiles",
    "UnsupportedMediaType",
    "WebSocket",
    "WebSocketClosed",
    "serve_file",
]
