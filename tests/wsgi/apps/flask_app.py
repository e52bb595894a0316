"""A Flask application: JSON, forms, uploads, streaming, cookies, redirects, errors."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

from flask import Flask, Response, jsonify, redirect, request, stream_with_context, url_for

SECRET = "flask-secret-that-must-not-leak"
READ_PIECE_BYTES = 65_536


def create_app() -> Flask:
    """The factory form, for ``flask_app:create_app()``."""
    app = Flask(__name__)

    @app.get("/json")
    def json_get() -> Response:
        return jsonify(framework="flask", pid=os.getpid(), args=request.args.to_dict())

    @app.post("/json")
    def json_post() -> Response:
        return jsonify(received=request.get_json())

    @app.post("/form")
    def form() -> Response:
        return jsonify(form=request.form.to_dict(flat=False))

    @app.post("/upload")
    def upload() -> Response:
        # Werkzeug spools large files to disk; the hash is taken in pieces.
        upload = request.files["file"]
        digest = hashlib.sha256()
        length = 0
        while piece := upload.stream.read(READ_PIECE_BYTES):
            digest.update(piece)
            length += len(piece)
        return jsonify(
            filename=upload.filename,
            length=length,
            sha256=digest.hexdigest(),
            fields=request.form.to_dict(),
        )

    @app.get("/stream")
    def stream() -> Response:
        count = int(request.args.get("count", "5"))
        delay = float(request.args.get("delay", "0"))

        def generate() -> Iterator[str]:
            for index in range(count):
                if delay:
                    time.sleep(delay)
                yield f"line {index}\n"

        return Response(stream_with_context(generate()), mimetype="text/plain")

    @app.get("/set-cookie")
    def set_cookie() -> Response:
        response = jsonify(set=True)
        response.set_cookie("flavour", request.args.get("value", "oatmeal"), httponly=True)
        return response

    @app.get("/read-cookie")
    def read_cookie() -> Response:
        return jsonify(cookies=request.cookies.to_dict())

    @app.get("/redirect")
    def to_json() -> Response:
        return redirect(url_for("json_get", source="redirect"))

    @app.get("/boom")
    def boom() -> Response:
        raise RuntimeError(SECRET)

    return app


app = create_app()
