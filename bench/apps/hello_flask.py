"""Flask hello-world for every WSGI server of the wsgi suite: ``hello_flask:app``.

One route, the same body and Content-Type as ``barehttp hello``: what Flask
and Werkzeug add per request (routing, Request/Response objects, context
locals) is what this app measures.
"""

from __future__ import annotations

from flask import Flask, Response
from hello import BODY, CONTENT_TYPE

app = Flask(__name__)


@app.get("/")
def hello() -> Response:
    """The hello body; Flask sets Content-Length."""
    return Response(BODY, content_type=CONTENT_TYPE)
