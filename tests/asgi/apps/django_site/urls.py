"""URLs of the test Django project."""

from __future__ import annotations

from django.urls import path

from tests.asgi.apps.django_site import views

urlpatterns = [
    path("hello/<str:name>", views.hello),
    path("form", views.form),
    path("upload", views.upload),
    path("stream", views.stream),
    path("async", views.async_view),
]
