"""StaticFiles: a directory tree served safely, for mounts and ``barehttp serve``.

What a request may name, and why:

* The path is percent-decoded exactly once, one segment at a time, so an encoded
  slash (``%2f``) cannot join segments and a double encoding (``%252e``) stays
  literal. Malformed escapes and non-UTF-8 bytes are 400.
* Segments ``.`` and ``..``, empty segments (``//``: an absolute path), segments
  holding ``\\`` (raw or ``%5c``) or NUL, and a leading drive letter (``C:``) are 404.
  So are dotfiles, unless ``show_dotfiles``.
* Symlinks may point anywhere inside the root. The target is resolved with
  ``realpath`` and must lie under the root; the file is then opened with
  ``O_NOFOLLOW``, and the path the kernel reports for the open descriptor
  (``/proc/self/fd``) is checked again. A symlink swapped in between the check and
  the open (TOCTOU) is therefore refused, never served.

Every refusal is the same 404 as a missing file: nothing tells a prober which
names exist outside the root.

Files served are remembered by request path: the checked real path, the file's
identity (device, inode, size, modification time) and its prepared headers. A
later request for the same path opens the real path with ``O_NOFOLLOW`` and
serves it only if ``fstat`` shows the very file that was checked, unchanged;
anything else (a changed, replaced or swapped file) goes through the full
resolution again. This skips the per-component ``realpath`` walk and the header
work for the files a site serves over and over.
"""

from __future__ import annotations

import os
import stat as stat_module

from barehttp.protocol.memo import Memo
from barehttp.server.handler import Exchange
from barehttp.web.errors import MethodNotAllowed, NotFound
from barehttp.web.file_response import (
    DEFAULT_CACHE_CONTROL,
    FileResponse,
    guess_media_type,
    serve_file,
)
from barehttp.web.known_files import MAX_ENTRIES, Key, KnownFile, KnownFiles
from barehttp.web.listing import ListedEntry, is_linkable, render_listing
from barehttp.web.request import Request
from barehttp.web.response import HTMLResponse, RedirectResponse, Response
from barehttp.web.safe_path import (
    OPEN_FLAGS,
    Opened,
    is_servable,
    open_inside,
    requested_names,
)

ALLOWED_METHODS = ("GET", "HEAD")
# A listing past this many entries is cut short: the page for a directory of a
# million files would cost seconds of CPU and megabytes per request.
MAX_LISTING_ENTRIES = 10_000

_LISTING_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"


# Request fields that need the full conditional and range logic (RFC 9110 §13, §14).
_CONDITIONAL_FIELDS = frozenset(
    {"if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "range"}
)


class StaticFiles:
    """A ``(Request) -> Response`` handler serving files under ``root``.

    Mount it: ``app.mount("/images/", StaticFiles("./media/img"))``. It reads the
    path from ``request.params["path"]`` (set by mounts and ``{path:path}`` routes),
    or takes the whole request path when used as a plain route.

    Args:
        root: the directory served; resolved once, so it may itself be a symlink.
        cache_control: the ``Cache-Control`` of file responses (None: none sent).
        listing: answer a directory without ``index`` with an HTML listing.
        show_dotfiles: serve and list names starting with ".".
        index: the file served for a directory request (None: never).

    Raises:
        ValueError: ``root`` is not a directory.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        cache_control: str | None = DEFAULT_CACHE_CONTROL,
        listing: bool = False,
        show_dotfiles: bool = False,
        index: str | None = "index.html",
    ) -> None:
        real_root = os.path.realpath(root)
        if not os.path.isdir(real_root):
            raise ValueError(f"static root is not a directory: {os.fspath(root)!r}")
        if index is not None and (not index or "/" in index or index in (".", "..")):
            raise ValueError(f"index must be a plain file name: {index!r}")
        self.root = real_root
        self.cache_control = cache_control
        self.listing = listing
        self.show_dotfiles = show_dotfiles
        self.index = index
        self._known = KnownFiles(cache_control)
        self._known_by_path: Memo[str, KnownFile] = Memo(MAX_ENTRIES)

    def __repr__(self) -> str:
        return f"StaticFiles({self.root!r})"

    def __call__(self, request: Request) -> Response:
        if request.method not in ALLOWED_METHODS:
            raise MethodNotAllowed(ALLOWED_METHODS)
        key: Key = (request.raw_path, request.params.get("path"))
        known = self._known.get(key)
        if known is not None:
            response = self._serve_known(request, key, known)
            if response is not None:
                return response
        names, wants_directory = requested_names(
            request.raw_path, request.params.get("path"), show_dotfiles=self.show_dotfiles
        )
        opened = open_inside(
            self.root, os.path.join(self.root, *names), show_dotfiles=self.show_dotfiles
        )
        mode = opened.stat.st_mode
        if stat_module.S_ISREG(mode) and not wants_directory:
            self._remember(request, key, opened, names[-1])
            return self._serve(request, opened, names[-1])
        try:
            if not stat_module.S_ISDIR(mode):
                raise NotFound()  # "file.txt/", or a device, FIFO or socket
            if not wants_directory:
                # Relative links in the page resolve against the slash form (RFC 3986 §5.2).
                query = request.query_string
                location = request.raw_path + "/" + (f"?{query}" if query else "")
                return RedirectResponse(location, 308)  # as App.mount: one status everywhere
            return self._answer_directory(request, opened, names)
        finally:
            os.close(opened.fd)

    # -- files already checked ------------------------------------------------------

    def answer_known(self, exchange: Exchange) -> bool:
        """Answer a plain GET/HEAD for a file already checked; False if it is not one.

        For a ``StaticFiles`` mounted at "/" (``barehttp serve``): no Request, no
        routing, and for a small file no open, only an ``lstat``.
        """
        head = exchange.head
        known = self._known_by_path.get(head.path)
        if known is None or head.method not in ALLOWED_METHODS:
            return False
        for name, _ in head.headers:
            if name in _CONDITIONAL_FIELDS:
                return False
        if known.body is not None:
            if not known.is_current():
                self._known_by_path.forget(head.path)
                return False
            exchange.send_response(200, known.headers, known.body)
            return True
        opened = known.open_if_current(OPEN_FLAGS)
        if opened is None:
            self._known_by_path.forget(head.path)
            return False
        fd, stat = opened
        FileResponse(os.fdopen(fd, "rb"), 200, known.headers, count=stat.st_size).send(exchange)
        return True

    def _serve_known(self, request: Request, key: Key, known: KnownFile) -> Response | None:
        """Serve a remembered file if it is still the file checked; None otherwise."""
        opened = known.open_if_current(OPEN_FLAGS)
        if opened is None:
            self._known.forget(key)
            return None
        fd, stat = opened
        file = os.fdopen(fd, "rb")  # owns the descriptor from here
        if any(name in _CONDITIONAL_FIELDS for name, _ in request.headers):
            return serve_file(
                request,
                file,
                media_type=known.media_type,
                cache_control=self.cache_control,
                stat=stat,
            )
        return FileResponse(file, 200, known.headers, offset=0, count=stat.st_size)

    def _remember(self, request: Request, key: Key, opened: Opened, name: str) -> None:
        known = self._known.remember(key, opened.fd, opened.stat, opened.real_path, name)
        # Mounted at "/", the request path alone names the file: answer_known's key.
        if known is not None and request.path[1:] == request.params.get("path"):
            self._known_by_path.put(request.raw_path, known)

    # -- answering ----------------------------------------------------------------

    def _serve(self, request: Request, opened: Opened, name: str) -> Response:
        file = os.fdopen(opened.fd, "rb")  # owns the descriptor from here
        return serve_file(
            request,
            file,
            media_type=guess_media_type(name),
            cache_control=self.cache_control,
            stat=opened.stat,
        )

    def _answer_directory(self, request: Request, directory: Opened, names: list[str]) -> Response:
        if self.index is not None:
            try:
                index = open_inside(
                    self.root,
                    os.path.join(directory.real_path, self.index),
                    show_dotfiles=self.show_dotfiles,
                )
            except NotFound:
                pass
            else:
                if stat_module.S_ISREG(index.stat.st_mode):
                    return self._serve(request, index, self.index)
                os.close(index.fd)
        if not self.listing:
            raise NotFound()
        return HTMLResponse(
            self._render_listing(request.path, directory, is_root=not names),
            200,
            [
                ("Cache-Control", "no-cache"),  # listings change; always revalidate
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Security-Policy", _LISTING_POLICY),
            ],
        )

    def _render_listing(self, title: str, directory: Opened, *, is_root: bool) -> str:
        """The directory's entries as HTML; see `web.listing.render_listing`."""
        entries: list[ListedEntry] = []
        truncated = False
        unlinkable = 0
        # Listing through the open descriptor: the directory read is the one checked.
        with os.scandir(directory.fd) as scan:
            for entry in scan:
                if len(entries) + unlinkable >= MAX_LISTING_ENTRIES:
                    truncated = True
                    break
                if entry.name.startswith(".") and not self.show_dotfiles:
                    continue
                try:
                    entry_stat = entry.stat()  # follows symlinks
                    if entry.is_symlink():
                        target = os.path.realpath(os.path.join(directory.real_path, entry.name))
                        if not is_servable(self.root, target, show_dotfiles=self.show_dotfiles):
                            continue  # would be refused anyway: do not advertise it
                except OSError:
                    continue  # a dangling symlink or an entry removed meanwhile
                if not is_linkable(entry.name):
                    unlinkable += 1
                    continue
                is_dir = stat_module.S_ISDIR(entry_stat.st_mode)
                entries.append(ListedEntry(entry.name, entry_stat, is_dir))
        return render_listing(
            title, entries, is_root=is_root, truncated=truncated, unlinkable=unlinkable
        )
