"""Views of the test Django project: plain Django, nothing barehttp-specific."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt

STREAM_WAIT_S = 20.0  # the streaming view's wait for the test's go-ahead


def hello(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(
        {
            "name": name,
            "query": request.GET.get("q"),
            "method": request.method,
            "path": request.path,
            "host": request.get_host(),
        }
    )


def form(request: HttpRequest) -> HttpResponse:
    """GET: a form with its CSRF token (and cookie); POST: the fields it received."""
    if request.method == "GET":
        return HttpResponse(f"token={get_token(request)}", content_type="text/plain")
    if request.method == "POST":
        return JsonResponse({key: request.POST.getlist(key) for key in request.POST})
    return HttpResponseNotAllowed(["GET", "POST"])


@csrf_exempt
def upload(request: HttpRequest) -> JsonResponse:
    uploaded = request.FILES["file"]
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    return JsonResponse(
        {
            "name": uploaded.name,
            "size": uploaded.size,
            "sha256": digest.hexdigest(),
            "note": request.POST.get("note"),
        }
    )


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    """``first`` at once; ``second`` only after the client has seen ``first`` (and said so)."""
    token = request.GET.get("token", "")
    marker = Path(settings.MARKERS_DIR) / f"stream-{token}"

    async def generate() -> AsyncIterator[bytes]:
        yield b"first\n"
        for _ in range(int(STREAM_WAIT_S / 0.01)):
            if marker.exists():
                break
            await asyncio.sleep(0.01)
        yield b"second\n"

    return StreamingHttpResponse(generate(), content_type="text/plain")


async def async_view(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse(
        {
            "in_event_loop_thread": threading.current_thread() is threading.main_thread(),
            "running_task": asyncio.current_task() is not None,
        }
    )
