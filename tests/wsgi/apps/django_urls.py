"""Views and URLs of the Django test application."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path, reverse

SECRET = "django-secret-that-must-not-leak"


def json_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return JsonResponse({"received": json.loads(request.body)})
    return JsonResponse({"framework": "django", "pid": os.getpid(), "args": request.GET.dict()})


def form(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return JsonResponse({"form": dict(request.POST.lists())})


def upload(request: HttpRequest) -> HttpResponse:
    uploaded = request.FILES["file"]
    digest = hashlib.sha256()
    length = 0
    for piece in uploaded.chunks():
        digest.update(piece)
        length += len(piece)
    return JsonResponse(
        {
            "filename": uploaded.name,
            "length": length,
            "sha256": digest.hexdigest(),
            "fields": request.POST.dict(),
            "handler": type(uploaded).__name__,
        }
    )


def stream(request: HttpRequest) -> HttpResponse:
    count = int(request.GET.get("count", "5"))
    delay = float(request.GET.get("delay", "0"))

    def generate() -> Iterator[bytes]:
        for index in range(count):
            if delay:
                time.sleep(delay)
            yield f"line {index}\n".encode()

    return StreamingHttpResponse(generate(), content_type="text/plain")


def set_cookie(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"set": True})
    response.set_cookie("flavour", request.GET.get("value", "oatmeal"), httponly=True)
    return response


def read_cookie(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"cookies": dict(request.COOKIES)})


def redirect_view(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("json") + "?source=redirect")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET)


urlpatterns = [
    path("json", json_view, name="json"),
    path("form", form),
    path("upload", upload),
    path("stream", stream),
    path("set-cookie", set_cookie),
    path("read-cookie", read_cookie),
    path("redirect", redirect_view),
    path("boom", boom),
]
