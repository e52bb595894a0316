"""A real nginx reverse proxy for tests: its own config, logs and pid in a temp dir.

nginx runs in the foreground (``daemon off``) as a child of the test, which
stops it by PID. The proxy sets the usual forwarding headers, as a production
config does.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 15.0

CONFIG = """
worker_processes 1;
daemon off;
user root root;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream barehttp {{ server {upstream}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{port}{ssl};
        {certificates}
        location / {{
            proxy_pass http://barehttp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    """nginx from the Debian package (scripts/install-system-deps.sh installs it)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    assert found, "nginx is not installed; run scripts/install-system-deps.sh"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def run_nginx(
    directory: Path, upstream: str, *, certificate: tuple[str, str] | None = None
) -> Iterator[Nginx]:
    """nginx on 127.0.0.1 proxying to ``upstream`` (``127.0.0.1:PORT`` or ``unix:PATH``).

    With ``certificate`` (chain file, key file) it listens with TLS.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    certificates = (
        f"ssl_certificate {certificate[0]}; ssl_certificate_key {certificate[1]};"
        if certificate
        else ""
    )
    config = directory / "nginx.conf"
    config.write_text(
        CONFIG.format(
            dir=directory,
            upstream=upstream,
            port=port,
            ssl=" ssl" if certificate else "",
            certificates=certificates,
        )
    )
    process = subprocess.Popen(
        [nginx_binary(), "-c", str(config), "-p", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(directory / "stderr.log").open("wb"),
    )
    nginx = Nginx(process, port, directory)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                stderr = (directory / "stderr.log").read_text(errors="replace")
                raise AssertionError(f"nginx exited: {stderr} {nginx.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not start listening") from None
                time.sleep(0.05)
        yield nginx
    finally:
        process.terminate()  # nginx: SIGTERM is a fast shutdown
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
