"""Start-up failures: one line naming what is at fault, a non-zero exit, nothing on disk."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

BAREHTTP = str(Path(sys.executable).parent / "barehttp")
TIMEOUT_S = 30.0


def run(*arguments: str, cwd: Path | None = None, as_nobody: bool = False) -> tuple[int, str]:
    """(exit status, stderr) of a barehttp command expected to fail at once."""
    command = [BAREHTTP, *arguments]
    if as_nobody:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root for this test"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    return result.returncode, result.stderr


def the_one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got: {stderr!r}"
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("certs")
    files: dict[str, str] = {}
    for name in ("one", "two"):
        issued = trustme.CA().issue_cert("127.0.0.1")
        files[f"{name}-chain"] = str(directory / f"{name}-chain.pem")
        files[f"{name}-key"] = str(directory / f"{name}-key.pem")
        issued.cert_chain_pems[0].write_to_path(files[f"{name}-chain"])
        issued.private_key_pem.write_to_path(files[f"{name}-key"])
    garbage = directory / "garbage.pem"
    garbage.write_text("not a certificate\n")
    files["garbage"] = str(garbage)
    return files


def test_address_in_use(busy_port: int) -> None:
    status, stderr = run("hello", "--port", str(busy_port))
    assert status == 1
    assert the_one_line(stderr) == (
        f"barehttp: cannot listen on 127.0.0.1:{busy_port}: address already in use "
        "(is another server running there?)"
    )


def test_failed_app_start_creates_no_database(busy_port: int, tmp_path: Path) -> None:
    database = tmp_path / "accounts.db"
    status, stderr = run("app", "--port", str(busy_port), "--db", str(database))
    assert status == 1
    assert "address already in use" in the_one_line(stderr)
    assert list(tmp_path.iterdir()) == []


def test_permission_denied_for_a_low_port() -> None:
    status, stderr = run("hello", "--port", "1", as_nobody=True)
    assert status == 1
    assert the_one_line(stderr) == (
        "barehttp: cannot listen on 127.0.0.1:1: permission denied "
        "(ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    )


def test_unknown_host() -> None:
    status, stderr = run("hello", "--host", "no-such-host.invalid", "--port", "0")
    assert status == 1
    assert the_one_line(stderr).startswith("barehttp: cannot resolve host 'no-such-host.invalid': ")


def test_missing_certificate(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    status, stderr = run("hello", "--port", "0", "--certfile", str(missing))
    assert status == 1
    assert the_one_line(stderr) == (
        f"barehttp: cannot read certificate file {missing}: No such file or directory"
    )


def test_unreadable_key(certificates: dict[str, str], tmp_path: Path) -> None:
    # Root reads any file: a directory is what stays unreadable here.
    arguments = ["--certfile", certificates["one-chain"], "--keyfile", str(tmp_path)]
    status, stderr = run("hello", "--port", "0", *arguments)
    assert status == 1
    assert (
        the_one_line(stderr) == f"barehttp: cannot read private key file {tmp_path}: Is a directory"
    )


def test_key_not_matching_the_certificate(certificates: dict[str, str], tmp_path: Path) -> None:
    database = tmp_path / "accounts.db"
    arguments = ["--certfile", certificates["one-chain"], "--keyfile", certificates["two-key"]]
    status, stderr = run("app", "--port", "0", "--db", str(database), *arguments)
    assert status == 1
    assert the_one_line(stderr) == (
        f"barehttp: the private key in {certificates['two-key']} does not match the "
        f"certificate in {certificates['one-chain']}"
    )
    assert not database.exists()


def test_certificate_that_is_not_pem(certificates: dict[str, str]) -> None:
    arguments = ["--certfile", certificates["garbage"], "--keyfile", certificates["one-key"]]
    status, stderr = run("hello", "--port", "0", *arguments)
    assert status == 1
    line = the_one_line(stderr)
    assert line.startswith(f"barehttp: cannot load certificate {certificates['garbage']}")
    assert line.endswith("(expected PEM files)")


def test_factory_that_needs_arguments(tmp_path: Path) -> None:
    (tmp_path / "factory_app.py").write_text("def create_app(config):\n    pass\n")
    status, stderr = run("wsgi", "factory_app:create_app()", "--chdir", str(tmp_path))
    assert status == 2
    assert the_one_line(stderr).endswith(
        "'factory_app:create_app()': the factory needs arguments (config); it is called with none"
    )


def test_serve_with_a_port_number_hints_at_the_port_option(tmp_path: Path) -> None:
    status, stderr = run("serve", "8000", cwd=tmp_path)
    assert status == 2
    assert the_one_line(stderr).endswith(
        "static root is not a directory: '8000' "
        "(to serve this directory on port 8000: barehttp serve --port 8000)"
    )
