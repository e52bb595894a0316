"""nginx as a load balancer in a temp directory: generated config, foreground, stopped by PID.

Everything nginx writes (pid, logs, temp files) stays in its directory, since the
defaults point at system paths (see the notes on running nginx in tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

NGINX = "/usr/sbin/nginx"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

CONFIG = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream barehttp {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://barehttp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A dead instance costs one failed connect; the request goes to the next.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


class NginxBalancer:
    """One nginx process spreading 127.0.0.1:`port` over `upstream_ports` (round robin)."""

    def __init__(self, port: int, upstream_ports: Sequence[int]) -> None:
        if not os.path.exists(NGINX):
            raise RuntimeError("nginx is not installed: run scripts/install-system-deps.sh")
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="barehttp-nginx-"))
        os.chmod(self.root, 0o755)  # workers may run as another user (root's nginx)
        servers = "\n".join(f"        server 127.0.0.1:{up} max_fails=0;" for up in upstream_ports)
        self.config = self.root / "nginx.conf"
        self.config.write_text(CONFIG.format(dir=self.root, servers=servers, port=port))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, prefix: Sequence[str] = ()) -> None:
        """Start nginx and wait until it accepts; `prefix` may pin it (taskset)."""
        log = (self.root / "stderr.log").open("wb")
        self.process = subprocess.Popen(
            [*prefix, NGINX, "-c", str(self.config), "-p", str(self.root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start listening") from None
                time.sleep(0.05)

    def errors(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def stop(self) -> None:
        """SIGQUIT (graceful), then SIGKILL, by PID; then remove the directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        shutil.rmtree(self.root, ignore_errors=True)
