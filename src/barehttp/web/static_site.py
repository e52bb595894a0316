"""StaticSite: an App that serves one directory, as ``barehttp serve`` does."""

from __future__ import annotations

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.web.app import App
from barehttp.web.static import StaticFiles


class StaticSite(App):
    """``files`` mounted at "/", with a short path for files already served.

    A file answered once is answered again straight from the exchange (see
    ``StaticFiles.answer_known``); everything else, from directories to ranges
    and error pages, goes through the usual App routing.
    """

    def __init__(self, files: StaticFiles, *, limits: Limits | None = None) -> None:
        super().__init__(limits=limits)
        self.files = files
        self.mount("/", files)  # also answers /favicon.ico from the directory

    def __call__(self, exchange: Exchange) -> None:
        if not self.files.answer_known(exchange):
            super().__call__(exchange)
